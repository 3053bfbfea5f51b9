#ifndef MESHLEDGER_CLMDB_SHIM_H
#define MESHLEDGER_CLMDB_SHIM_H
#include <lmdb.h>
#endif
