// Only a header: LLVMFuzzerRunDriver is defined by libFuzzer's runtime.
#include "FuzzerDriver.h"
