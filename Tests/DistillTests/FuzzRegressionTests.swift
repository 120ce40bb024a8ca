import Distill
import Foundation
import TestSupport
import XCTest

/// Run-config inputs found by the libFuzzer harness fuzz-run-config (Fuzz/), kept as tests.
final class RunConfigFuzzRegressionTests: XCTestCase {
    /// A flow mapping left open across lines became the value of `epochs`; the error quoted it
    /// with its newlines (Fuzz/.build/artifacts/fuzz-run-config/crash-3b8beb4f…).
    func testQuotedValueWithNewlinesGivesOneLine() throws {
        let dir = temporaryDirectory("fuzz-regression")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("run.yaml")
        let bytes: [UInt8] = Array("method: bss\nepochs:\n  poep".utf8) + [0xEF, 0xFF, 0xFE]
            + Array("s:'{b".utf8) + [0xC6, 0xDF, 0xA2] + Array("chs:%epo c-  {pochs::2-}b}]\n  \r \n 8{".utf8)
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try RunConfig.resolve(file: url.path, overrides: [])) { e in
            let s = "\(e)"
            XCTAssertFalse(s.contains("\n") || s.contains("\r"), s)
            XCTAssertTrue(s.hasPrefix(url.path + ": "), s)
        }
    }
}

extension RunConfigFuzzRegressionTests {
    /// Two complex keys that Yams resolves to the same value trapped in its dictionary
    /// (crash-4d1bd89e…); keys that are not names are refused first.
    func testKeysThatAreNotNamesAreRefused() throws {
        let dir = temporaryDirectory("fuzz-regression")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("run.yaml")
        let cases: [[UInt8]] = [
            [0x0d, 0x0d, 0x3f, 0x64, 0x22, 0x3a, 0x20, 0x23, 0xf1, 0x0d, 0x0d, 0x3f, 0x0d, 0x20, 0x3f, 0x0d, 0x20, 0x0d, 0x23, 0x2a, 0xbb],
            Array("~: 1\nnull: 2\n".utf8), Array("1: a\n01: b\n".utf8),
            // A list as a key, then an unterminated flow mapping (crash-4d82dede…): lists and
            // mappings as keys are refused before Yams builds its dictionary.
            Array("?\n  - pochs:pochs - {a!\n".utf8), Array("? [a]\n: 1\n? [a]\n: 2\n".utf8),
            Array("? {a: 1}\n: 1\n".utf8),
            // A base-60 integer that overflows Int trapped in Yams' conversion (crash-4a2b4276…).
            Array("6666666666666666666:01".utf8), Array("epochs: 6666666666666666666:01\n".utf8),
        ]
        for bytes in cases {
            try Data(bytes).write(to: url)
            XCTAssertThrowsError(try RunConfig.resolve(file: url.path, overrides: [])) { e in
                XCTAssertFalse("\(e)".contains("\n"), "\(e)")
            }
        }
        try Data("epochs: 2\nbatch_size: 8\n".utf8).write(to: url)
        XCTAssertEqual(try RunConfig.resolve(file: url.path, overrides: []).epochs, 2)
    }
}
