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
