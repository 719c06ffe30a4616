#ifndef STRATA_SHIMS_H
#define STRATA_SHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) with zlib-style chaining:
/// start with crc = 0, pass the previous result to continue over more bytes.
/// Uses carry-less multiplication folding on long buffers where the CPU has AVX2 + VPCLMULQDQ, SSE4.2
/// with three interleaved streams otherwise, else the portable table.
uint32_t strata_crc32c(uint32_t crc, const void *buf, size_t len);

/// Portable slicing-by-8 implementation (same contract as strata_crc32c).
uint32_t strata_crc32c_portable(uint32_t crc, const void *buf, size_t len);

/// SSE4.2, one stream only (same contract). Must only be called when strata_crc32c_hw_available().
uint32_t strata_crc32c_hw_single(uint32_t crc, const void *buf, size_t len);

/// SSE4.2, three interleaved streams (same contract). Must only be called when available.
uint32_t strata_crc32c_hw_interleaved(uint32_t crc, const void *buf, size_t len);

/// Carry-less multiplication folding (AVX2 + VPCLMULQDQ) for buffers of 512 bytes and more, the
/// interleaved crc32 path below that (same contract). Must only be called when
/// strata_crc32c_fold_available().
uint32_t strata_crc32c_fold(uint32_t crc, const void *buf, size_t len);

/// 1 when the CPU and OS support the folding path (SSE4.2, PCLMULQDQ, AVX2, VPCLMULQDQ, YMM state).
int strata_crc32c_fold_available(void);

/// 1 when the CPU supports the SSE4.2 crc32 instruction.
int strata_crc32c_hw_available(void);

/// fallocate(2) (Linux). Returns 0 on success, else errno. On systems without it, posix_fallocate.
int strata_fallocate(int fd, int mode, off_t offset, off_t len);

/// FALLOC_FL_KEEP_SIZE, exported so Swift needs no _GNU_SOURCE.
int strata_falloc_keep_size(void);

/// Starts (wait = 0) or completes (wait = 1) writeback of a file range without a journal commit
/// (sync_file_range on Linux; a no-op elsewhere). Returns 0 or errno. A hint, not durability.
int strata_writeback(int fd, off_t offset, off_t len, int wait);

/// Adds `nice_increment` to the calling thread's nice value (Linux: per thread). Returns 0 or errno.
int strata_lower_thread_priority(int nice_increment);

/// Copies `count` bytes from `src` (typically inside a file's memory map) to `dst`, returning 0, or
/// EIO when reading `src` raised SIGBUS: the file shrank under the map or the disk failed the read.
/// The SIGBUS is caught on this thread only while the copy runs (the JVM does the same for mapped
/// buffers); a SIGBUS anywhere else still ends the process as before. Installs the handler on
/// first use. `dst` must not be mapped from a file that can fault.
int strata_guarded_copy(void *dst, const void *src, size_t count);

#endif
