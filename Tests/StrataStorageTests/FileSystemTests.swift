import Testing

@testable import StrataStorage

#if canImport(Glibc)
import Glibc
#endif

/// `PosixFileSystem` details that only show under particular memory layouts.
@Suite struct FileSystemTests {
    /// The crash campaign's restart 485 died of SIGSEGV in `listDirectory`: it copied each entry's
    /// declared 256-byte `d_name`, but the kernel's record ends just after the name's NUL, and the
    /// last entry of `readdir`'s buffer can end at an unmapped page. Here an entry ends exactly at a
    /// guard page: reading past its name would fault.
    @Test func directoryEntryNameReadsNoFurtherThanTheName() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let region = try #require(mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        #expect(region != MAP_FAILED)
        defer { munmap(region, 2 * page) }
        #expect(mprotect(region + page, page, PROT_NONE) == 0)
        let name = "00000000000000000042.timeindex"
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        // Records are 8-byte aligned; put the NUL in the last byte before the guard page.
        let recordStart = (page - (nameOffset + name.utf8.count + 1)) & ~7
        let padding = page - (recordStart + nameOffset + name.utf8.count + 1)
        let record = region + recordStart
        let nameStart = record + nameOffset + padding  // shift the name so its NUL is the page's last byte
        for (index, byte) in name.utf8.enumerated() {
            nameStart.storeBytes(of: byte, toByteOffset: index, as: UInt8.self)
        }
        nameStart.storeBytes(of: 0, toByteOffset: name.utf8.count, as: UInt8.self)
        // Read the name where a record at `nameStart - nameOffset` keeps it (alignment aside, as the
        // kernel's packing does not matter to a byte-wise read).
        let entry = UnsafeRawPointer(nameStart - nameOffset).assumingMemoryBound(to: dirent.self)
        #expect(directoryEntryName(entry) == name)
    }

    @Test func listDirectoryNamesEveryEntryButDotAndDotDot() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let names = (0..<300).map { String(repeating: "n", count: 1 + $0 % 200) + "-\($0)" }
        for name in names {
            let fd = creat(dir.path + "/" + name, 0o644)
            #expect(fd >= 0)
            close(fd)
        }
        #expect(Set(try PosixFileSystem().listDirectory(dir.path)) == Set(names))
    }
}
