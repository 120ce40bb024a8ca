import Foundation
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
import TestSupport
import XCTest

/// SHA-256 (libcrypto) for provenance hashes: known digests, pieces, copies, folders; the zip
/// CRC-32 (zlib).
final class HashTests: XCTestCase {
    func testSHA256KnownDigests() {
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Fed in odd pieces: the same digest as in one piece.
        let bytes = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        var s = SHA256()
        var i = 0
        for piece in [1, 63, 64, 65, 200, 607] { s.update(bytes[i..<(i + piece)]); i += piece }
        XCTAssertEqual(i, 1000)
        XCTAssertEqual(s.hexDigest(), SHA256.hex(bytes))
        // A copy hashes on independently of the original.
        var a = SHA256()
        a.update(Data("ab".utf8))
        var b = a
        b.update(Data("x".utf8))
        a.update(Data("c".utf8))
        XCTAssertEqual(a.hexDigest(), SHA256.hex(Data("abc".utf8)))
        XCTAssertEqual(b.hexDigest(), SHA256.hex(Data("abx".utf8)))
    }

    /// The check value of the CRC-32 used by zip and gzip, whole and in pieces.
    func testZipCRC32() {
        let bytes = Data("123456789".utf8)
        var whole = ZipCRC32()
        bytes.withUnsafeBytes { whole.update($0) }
        XCTAssertEqual(whole.value, 0xCBF4_3926)
        var pieces = ZipCRC32()
        bytes.prefix(4).withUnsafeBytes { pieces.update($0) }
        bytes.dropFirst(4).withUnsafeBytes { pieces.update($0) }
        XCTAssertEqual(pieces.value, 0xCBF4_3926)
    }

    /// A folder hashes as the manifest of its files (sha256sum lines, sorted by path).
    func testSHA256OfAFolder() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try Data("abc".utf8).write(to: dir.appendingPathComponent("b.bin"))
        try Data().write(to: dir.appendingPathComponent("sub/a.bin"))
        let manifest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  b.bin\n"
            + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  sub/a.bin\n"
        XCTAssertEqual(try SHA256.path(dir.path), SHA256.hex(Data(manifest.utf8)))
        XCTAssertEqual(try SHA256.path(dir.appendingPathComponent("b.bin").path), SHA256.hex(Data("abc".utf8)))
        XCTAssertThrowsError(try SHA256.path(dir.appendingPathComponent("none").path))
    }
}
