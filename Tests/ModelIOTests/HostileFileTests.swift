import Foundation
@testable import DataSets
@testable import HDF5
@testable import Keras
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Hostile files: no crash, no hang, no memory blow-up. Every archive here is made in the test
/// (HostileZip.swift) so each field can be wrong on purpose.
final class HostileFileTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws { scratch = temporaryDirectory("hostile") }
    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
        MemoryBudget.bytes = MemoryBudget.defaultBytes
    }

    func url(_ name: String) -> URL { scratch.appendingPathComponent(name) }

    /// Runs `body`, which must throw a one-line `ModelIOError` whose text holds every piece of `mentions`.
    func assertRefused(_ mentions: [String], line: UInt = #line, _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("accepted; expected an error mentioning \(mentions)", line: line)
        } catch let e as ModelIOError {
            for m in mentions { XCTAssertTrue(e.description.contains(m), "'\(e)' lacks '\(m)'", line: line) }
            XCTAssertFalse(e.description.contains("\n"), "not one line: \(e)", line: line)
        } catch {
            XCTFail("not a ModelIOError: \(error)", line: line)
        }
    }

    func npy(_ floats: [Float]) -> [UInt8] {
        [UInt8](NpyFormat.encode(NumpyArray(float32s: floats, shape: [floats.count])))
    }

    /// A version 1.0 `.npy` header for a 1-D array of `count` elements (128 bytes long).
    func npyHeader(_ descr: String, count: Int) -> [UInt8] {
        var text = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(count),), }"
        text += String(repeating: " ", count: 128 - 10 - 1 - text.utf8.count) + "\n"
        return NpyFormat.magic + [1, 0] + le16(UInt16(text.utf8.count)) + Array(text.utf8)
    }

    // MARK: - Hangs

    /// A member whose deflate stream does not end inside its compressed bytes (its final-block
    /// bit cleared): ZIPFoundation's inflate loop spun on it for ever.
    func testUnfinishedDeflateStreamIsRefusedAtOnce() throws {
        var member = HostileZip.Member.deflated("w.npy", npy((0..<64).map { Float($0) }))
        member.payload[0] &= 0xFE   // BFINAL = 0: the stream claims more blocks follow
        try HostileZip(members: [member, .stored("b.npy", npy([1]))]).write(to: url("unfinished.npz"))
        let start = Date()
        assertRefused(["unfinished.npz", "w", "deflate"]) { _ = try Npz.read(url("unfinished.npz")) }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
    }

    /// The exact shape that hung the ZIPFoundation 0.9.20 reader at 100% CPU for ever: a deflate
    /// member made of non-final stored blocks that run to the end of the file exactly 1 MiB
    /// after the member's data start (its loop read 1 MiB chunks past the member, then spun on
    /// the empty chunk at end of file). Read on another thread so a regression fails, not hangs.
    func testStoredBlocksRunningToTheEndOfTheFileDoNotHang() throws {
        let name = Array("x.npy".utf8)
        let size: UInt32 = 4096
        let npyStart = npyHeader("|u1", count: Int(size) - 128)
        func header(_ signature: UInt32, central: Bool) -> [UInt8] {
            var h = le32(signature) + (central ? le16(0x031E) : []) + le16(20) + le16(0) + le16(8) + le16(0) + le16(0x21)
            h += le32(0) + le32(1000) + le32(size) + le16(UInt16(name.count)) + le16(0)
            if central { h += le16(0) + le16(0) + le16(0) + le32(0o100644 << 16) + le32(0) }
            return h + name
        }
        let local = header(0x0403_4B50, central: false), central = header(0x0201_4B50, central: true)
        let total = 1 << 20, tailLength = central.count + 22
        var data: [UInt8] = []
        var left = total
        while left > 0 {
            var payload = min(65535, left - 5)
            if (1..<6).contains(left - 5 - payload) { payload -= 10 }
            data += [0x00] + le16(UInt16(payload)) + le16(UInt16(payload) ^ 0xFFFF)
            data += [UInt8](repeating: 0, count: payload)
            left -= 5 + payload
        }
        data.replaceSubrange(5..<(5 + npyStart.count), with: npyStart)
        let end = le32(0x0605_4B50) + le16(0) + le16(0) + le16(1) + le16(1)
            + le32(UInt32(central.count)) + le32(UInt32(local.count + total - tailLength)) + le16(0)
        data.replaceSubrange((total - tailLength)..<total, with: central + end)
        try Data(local + data).write(to: url("spin.npz"))

        let done = DispatchSemaphore(value: 0)
        let box = OutcomeBox()
        Thread.detachNewThread {
            do { _ = try Npz.read(self.url("spin.npz")) } catch { box.error = error }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "reading spin.npz hangs")
        XCTAssertTrue("\(box.error.map { "\($0)" } ?? "accepted")".contains("truncated deflate data"), "\(String(describing: box.error))")
    }

    /// Every single-bit flip of a `savez_compressed` archive (about 9100 variants, each
    /// rewritten on tmpfs) is read or refused quickly; none hangs or traps.
    func testBitFlipsOfACompressedNpzEnd() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture("numpy/savez_compressed.npz"))))
        let shm = URL(fileURLWithPath: "/dev/shm")
        let directory = FileManager.default.isWritableFile(atPath: shm.path) ? shm : scratch!
        let target = directory.appendingPathComponent("bss-flipped-\(UUID().uuidString).npz")
        defer { try? FileManager.default.removeItem(at: target) }
        let start = Date()
        var refused = 0, variants = 0
        for position in 0..<original.count {
            for bit in 0..<8 {
                var bytes = original
                bytes[position] ^= 1 << bit
                try Data(bytes).write(to: target)
                variants += 1
                do { _ = try Npz.read(target) } catch is ModelIOError { refused += 1 }
            }
        }
        let seconds = Date().timeIntervalSince(start)
        print("bit flips of savez_compressed.npz: \(variants) variants, \(refused) refused, \(String(format: "%.2f", seconds)) s")
        // Flips in timestamps, attributes or the version fields change nothing we check.
        XCTAssertGreaterThan(refused, variants * 3 / 4)
        XCTAssertLessThan(seconds, 30)
    }

    /// Every single-bit flip of a gzipped IDX file ends, and either gives the original bytes (a
    /// flip in a header field zlib ignores, such as the time stamp) or a `ModelIOError`: gzip's
    /// CRC-32 and length catch every flip in the data.
    func testEveryBitFlipOfAGzippedIDXEnds() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture("data-formats/mnist/train-labels-idx1-ubyte.gz"))))
        let plain = try Gzip.decompress(Data(original), file: "g", declaredSize: IDXFile.declaredSize)
        var refused = 0
        for position in 0..<original.count {
            for bit in 0..<8 {
                var bytes = original
                bytes[position] ^= 1 << bit
                do {
                    let out = try Gzip.decompress(Data(bytes), file: "g", declaredSize: IDXFile.declaredSize)
                    XCTAssertEqual(out, plain, "flip of bit \(bit) at byte \(position) gave other bytes")
                } catch {
                    XCTAssertTrue(error is ModelIOError, "\(error)")
                    refused += 1
                }
            }
        }
        XCTAssertGreaterThan(refused, original.count * 8 / 2, "most flips must be refused")
    }

    // MARK: - Bombs

    /// A member that declares more than deflate can produce from its bytes is refused before
    /// inflating; so is one beyond the memory budget, and one whose stream is longer or shorter
    /// than declared: none allocates more than it declares.
    func testDeflateBombsAreRefusedBeforeInflating() throws {
        let zeros = [UInt8](repeating: 0, count: 32 << 20)   // 32 MiB of zeros deflate to ~32 kB
        let header = npyHeader("|u1", count: zeros.count - 128)
        let content = header + zeros.prefix(zeros.count - header.count)
        let honest = HostileZip.Member.deflated("x.npy", Array(content))

        var lying = honest
        lying.uncompressedSize = 1 << 40
        lying.zip64 = true
        try HostileZip(members: [lying]).write(to: url("ratio.npz"))
        assertRefused(["ratio.npz", "more than deflate can produce"]) { _ = try Npz.read(url("ratio.npz")) }

        try HostileZip(members: [honest]).write(to: url("budget.npz"))
        MemoryBudget.bytes = 16 << 20
        assertRefused(["budget.npz", "x.npy", "memory budget"]) { _ = try Npz.read(url("budget.npz")) }
        MemoryBudget.bytes = MemoryBudget.defaultBytes

        // The member's size disagrees with its .npy header: refused from the header alone.
        var short = honest
        short.uncompressedSize = 1 << 20
        try HostileZip(members: [short]).write(to: url("header.npz"))
        assertRefused(["header.npz", "x", "expected \(zeros.count - 128) bytes of data for shape (\(zeros.count - 128),) |u1, found \((1 << 20) - 128)"]) {
            _ = try Npz.read(url("header.npz"))
        }

        // Any member (here in a zip read directly): the stream must fill exactly the declared size.
        try HostileZip(members: [short]).write(to: url("longer.zip"))
        assertRefused(["longer.zip", "more than the 1048576 bytes the archive declares"]) {
            let zip = try ZipReader(url: url("longer.zip"), file: "longer.zip", expected: "a zip")
            _ = try zip.data(of: zip.members[0])
        }
        var long = honest
        long.uncompressedSize = UInt64(content.count + 1)
        try HostileZip(members: [long]).write(to: url("shorter.zip"))
        assertRefused(["shorter.zip", "ends after \(content.count) bytes"]) {
            let zip = try ZipReader(url: url("shorter.zip"), file: "shorter.zip", expected: "a zip")
            _ = try zip.data(of: zip.members[0])
        }
    }

    /// A `.npy` header may declare any shape; the data present decide, before any allocation.
    func testNpyHeaderDeclaringTerabytesIsRefused() throws {
        let header = npyHeader("<f4", count: 1 << 38)
        try Data(header + [0, 0, 0, 0]).write(to: url("huge.npy"))
        assertRefused(["huge.npy", "expected 1099511627776 bytes of data", "found 4"]) { _ = try NumpyArray.read(url("huge.npy")) }
    }

    /// A gzipped IDX file is cut off at the size its header declares and at the budget.
    func testGzipBombsAreRefused() throws {
        // Header: 1-D uint8, 16 elements; then 32 MiB of zeros.
        let idx: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 16] + [UInt8](repeating: 0, count: 32 << 20)
        try Data(deflate(idx, gzip: true)).write(to: url("long-labels-idx1-ubyte.gz"))
        assertRefused(["long-labels-idx1-ubyte.gz", "more than the 24 bytes"]) {
            _ = try IDXFile.parse(self.url("long-labels-idx1-ubyte.gz").path)
        }
        // A header declaring 4 GB from a few kB of data.
        let big: [UInt8] = [0, 0, 8, 3, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0] + [UInt8](repeating: 0, count: 1 << 20)
        try Data(deflate(big, gzip: true)).write(to: url("big-images-idx3-ubyte.gz"))
        assertRefused(["big-images-idx3-ubyte.gz", "more than"]) { _ = try IDXFile.parse(self.url("big-images-idx3-ubyte.gz").path) }
        // Without a header to go by, output stops at the budget.
        MemoryBudget.bytes = 4 << 20
        let plain = [UInt8](repeating: 7, count: 32 << 20)
        assertRefused(["g.gz", "memory budget"]) { _ = try Gzip.decompress(Data(deflate(plain, gzip: true)), file: "g.gz") }
    }

    // MARK: - Names and structure

    func testDuplicateAndPathLikeMemberNamesAreRefused() throws {
        let a = npy([1, 2]), b = npy([3])
        let cases: [(String, [HostileZip.Member], [String])] = [
            ("dup.npz", [.stored("x.npy", a), .stored("x.npy", b)], ["x.npy", "more than once"]),
            ("dupkey.npz", [.stored("x.npy", a), .stored("x", b)], ["x", "more than once"]),
            ("parent.npz", [.stored("../x.npy", a)], ["../x.npy", "path-like"]),
            ("absolute.npz", [.stored("/etc/x.npy", a)], ["/etc/x.npy", "path-like"]),
            ("backslash.npz", [.stored("a\\x.npy", a)], ["path-like"]),
            ("inner.npz", [.stored("a/../x.npy", a)], ["path-like"]),
        ]
        for (name, members, mentions) in cases {
            try HostileZip(members: members).write(to: url(name))
            assertRefused([name] + mentions) { _ = try Npz.read(url(name)) }
        }
        // numpy writes a key 'a/b' as member 'a/b.npy': a relative name stays readable.
        try HostileZip(members: [.stored("a/b.npy", a)]).write(to: url("nested.npz"))
        XCTAssertEqual(try Npz.read(url("nested.npz")).map(\.key), ["a/b"])
    }

    func testInconsistentZip64RecordsAreRefused() throws {
        let a = npy([1, 2])
        try HostileZip(members: [.stored("x.npy", a)], inconsistentZip64End: true).write(to: url("end.npz"))
        assertRefused(["end.npz", "inconsistent zip64 records", "member count"]) { _ = try Npz.read(url("end.npz")) }
        var saturated = HostileZip.Member.stored("x.npy", a)
        saturated.zip64 = true
        try HostileZip(members: [saturated]).write(to: url("wide.npz"))
        XCTAssertEqual(try Npz.read(url("wide.npz")).map(\.key), ["x"], "a proper zip64 extra is read")
        // A count that hides a member numpy would list.
        var twoMembers = HostileZip(members: [.stored("x.npy", a), .stored("y.npy", a)]).bytes()
        twoMembers[twoMembers.count - 12] = 1   // the end record's member counts: 2 -> 1
        twoMembers[twoMembers.count - 14] = 1
        try Data(twoMembers).write(to: url("count.npz"))
        assertRefused(["count.npz", "after the 1 entries"]) { _ = try Npz.read(url("count.npz")) }
        saturated.dropZip64Extra = true
        try HostileZip(members: [saturated]).write(to: url("noextra.npz"))
        assertRefused(["noextra.npz", "inconsistent zip64 records"]) { _ = try Npz.read(url("noextra.npz")) }
    }

    func testKerasArchiveMembersAreKnownNames() throws {
        let config = Array("{}".utf8)
        try HostileZip(members: [.stored("config.json", config), .stored("../model.weights.h5", [1])]).write(to: url("a.keras"))
        assertRefused(["a.keras", "path-like"]) { _ = try KerasArchive.read(url("a.keras"), needWeights: true) }
        try HostileZip(members: [.stored("config.json", config), .stored("config.json", config)]).write(to: url("b.keras"))
        assertRefused(["b.keras", "config.json", "more than once"]) { _ = try KerasArchive.read(url("b.keras"), needWeights: false) }
        try HostileZip(members: [.stored("config.json", config), .stored("evil.sh", [1])]).write(to: url("c.keras"))
        assertRefused(["c.keras", "evil.sh", "unexpected member"]) { _ = try KerasArchive.read(url("c.keras"), needWeights: false) }
    }

    // MARK: - Files that are not regular files

    /// Reading a FIFO used to block for ever in open(2); each reader must refuse it at once.
    /// The read runs on another thread so a regression fails the test instead of hanging it.
    func testNamedPipesAndDevicesAreRefused() throws {
        let fifo = url("pipe.npz")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        let readers: [(String, () throws -> Void)] = [
            ("npz", { _ = try Npz.read(fifo) }),
            ("npy", { _ = try NumpyArray.read(fifo) }),
            ("hdf5", { _ = try HDF5File(reading: fifo) }),
            ("data", { _ = try DataLoader.read(fifo.path) }),
            ("model", { _ = try ModelLoader.load(fifo.path, arch: "mlp:4-2") }),
            ("spec", { _ = try ArchitectureSpec.load(fifo) }),
        ]
        for (what, read) in readers {
            let done = DispatchSemaphore(value: 0)
            let box = OutcomeBox()
            Thread.detachNewThread {
                do { try read() } catch { box.error = error }
                done.signal()
            }
            if done.wait(timeout: .now() + 5) == .timedOut {
                XCTFail("\(what): reading a FIFO blocks")
                // Unblock the reader: open the other end and close it.
                let fd = open(fifo.path, O_WRONLY | O_NONBLOCK)
                if fd >= 0 { close(fd) }
                _ = done.wait(timeout: .now() + 5)
                continue
            }
            let outcome = box.error   // written before the signal
            let e = outcome as? ModelIOError
            XCTAssertEqual(e?.kind, .io, "\(what): \(String(describing: outcome))")
            XCTAssertTrue(e?.description.contains("named pipe") ?? false, "\(what): \(String(describing: outcome))")
            XCTAssertTrue(e?.description.contains("pipe.npz") ?? false, "\(what): \(String(describing: outcome))")
        }
        assertRefused(["/dev/zero", "character device"]) { _ = try NumpyArray.read(URL(fileURLWithPath: "/dev/zero")) }
    }

    // MARK: - Error text and names

    /// A file whose name is not UTF-8 exists; Swift sees its name with U+FFFD, and the error
    /// says so instead of "no such file".
    func testNonUTF8NameIsNotReportedAsMissing() throws {
        var raw = Array(scratch.path.utf8) + Array("/caf".utf8) + [0xE9] + Array(".npy".utf8)
        raw.append(0)
        let fd = raw.withUnsafeBufferPointer { $0.baseAddress!.withMemoryRebound(to: CChar.self, capacity: raw.count) {
            open($0, O_CREAT | O_WRONLY, 0o644)
        } }
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        let seen = String(decoding: raw.dropLast(), as: UTF8.self)   // what CommandLine.arguments gives
        assertRefused(["not valid UTF-8", "rename"]) { _ = try NumpyArray.read(URL(fileURLWithPath: seen)) }
        assertRefused(["not valid UTF-8"]) { _ = try ModelLoader.load(seen, arch: "mlp:4-2") }
        assertRefused(["not valid UTF-8"]) { _ = try DataLoader.read(seen) }
    }

    /// NAME_MAX is 255 bytes: a 254-byte output name is legal, and so must be its temporary file.
    func testLongestLegalOutputNameIsWritable() throws {
        let name = String(repeating: "é", count: 125) + ".npz"   // 250 + 4 = 254 bytes
        XCTAssertEqual(name.utf8.count, 254)
        try Npz.write([("x", NumpyArray(float32s: [1], shape: [1]))], to: url(name))
        XCTAssertEqual(try Npz.read(url(name)).map(\.key), ["x"])
        XCTAssertLessThanOrEqual(AtomicFile.temporaryName(for: name, suffix: String(UInt64.max, radix: 36)).utf8.count, 255)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path), [name], "no temporary file left")
    }

    // MARK: - JSON

    func testJSONDuplicateKeysAndDeepNestingAreRefused() throws {
        assertRefused(["spec.json", "duplicate key \"classes\""]) {
            try JSONInput.validate(Data(#"{"classes": 10, "classes": 2}"#.utf8), file: "spec.json")
        }
        assertRefused(["deep.json", "nesting deeper"]) {
            try JSONInput.validate(Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8),
                                   file: "deep.json")
        }
        try Data(#"{"format": "bss-architecture", "input_shape": [4], "classes": 2, "classes": 3, "layers": []}"#.utf8)
            .write(to: url("dup.json"))
        assertRefused(["dup.json", "duplicate key"]) { _ = try ArchitectureSpec.load(url("dup.json")) }
    }
}

/// The error a reader thread ended with (read after its semaphore signals).
private final class OutcomeBox: @unchecked Sendable {
    var error: Error?
}
