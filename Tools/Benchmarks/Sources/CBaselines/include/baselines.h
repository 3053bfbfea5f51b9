#ifndef MESHLEDGER_BASELINES_H
#define MESHLEDGER_BASELINES_H
#include <stddef.h>
#include <stdint.h>

/// Appends `count` records (concatenated in `data`, lengths in `lengths`) to a new LMDB
/// environment at `path` with 8-byte big-endian keys and MDB_APPEND, `batch` records per
/// durable write transaction. Returns seconds taken, or a negative value on error.
double raw_lmdb_append(const char *path, const uint8_t *data, const size_t *lengths, size_t count, size_t batch);

/// Scans every record of that environment with a cursor, summing their sizes into `*bytes`.
/// Returns seconds taken, or a negative value on error.
double raw_lmdb_scan(const char *path, size_t *records, size_t *bytes);

/// Appends the same records to a new SQLite database in WAL mode (synchronous=FULL, so each
/// commit is durable like LMDB's), `batch` records per transaction, into
/// `events(seq INTEGER PRIMARY KEY, record BLOB)`. With `indexed`, the table also has what the
/// log keeps besides its records: an index by object and sequence (history), one by time and
/// sequence, and an `objects` table of each object's last sequence, filled from the record's header.
/// Returns seconds taken, or a negative value on error.
double sqlite_wal_append(
    const char *path, const uint8_t *data, const size_t *lengths, size_t count, size_t batch, int indexed);

/// Bytes of the heap in use now (glibc's `mallinfo2().uordblks`): what a data structure holds,
/// measured as the difference around building it.
size_t heap_in_use(void);

#endif
