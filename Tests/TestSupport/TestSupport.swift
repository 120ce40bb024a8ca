import Foundation
import XCTest

/// The one tolerance helper for numeric tests: every element must satisfy
/// `|actual − expected| ≤ atol + rtol·|expected|`. Comparison is order-sensitive, so a
/// transposed or permuted result cannot pass.
public func assertAllClose(_ actual: [Float], _ expected: [Float], atol: Float = 1e-5, rtol: Float = 1e-5,
                           _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("\(message): \(actual.count) values, expected \(expected.count)", file: file, line: line)
        return
    }
    let bad = zip(actual, expected).enumerated().filter { _, p in !(abs(p.0 - p.1) <= atol + rtol * abs(p.1)) }
    if !bad.isEmpty {
        let list = bad.prefix(5).map { i, p in "[\(i)] \(p.0) vs \(p.1)" }.joined(separator: ", ")
        XCTFail("\(message): \(bad.count) of \(actual.count) differ: \(list)", file: file, line: line)
    }
}

/// Largest absolute element-wise difference.
public func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// The repository's `Fixtures/` folder, located from this source file.
public let fixturesURL: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

/// Path of a fixture file, e.g. `fixture("torch/small-cnn.npz")`.
public func fixture(_ relative: String) -> String { fixturesURL.appendingPathComponent(relative).path }

/// A fresh temporary directory, removed by the caller (or left in /tmp).
public func temporaryDirectory(_ label: String = "bss-test") -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Asserts that `body` throws an error of type `E` whose text is one line containing each of
/// `mentions` (the project's rule for user-facing errors).
public func assertOneLineError<E: Error>(_ type: E.Type, _ mentions: [String], file: StaticString = #filePath, line: UInt = #line,
                                         _ body: () throws -> Any) {
    do {
        _ = try body()
        XCTFail("expected an error mentioning \(mentions)", file: file, line: line)
    } catch let e as E {
        let text = "\(e)"
        for m in mentions { XCTAssertTrue(text.contains(m), "\(text) should mention \(m)", file: file, line: line) }
        XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
    } catch {
        XCTFail("expected a \(E.self), got \(error)", file: file, line: line)
    }
}
