import Foundation
import XCTest

/// The result of running the `bss` executable.
public struct CLIResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Path of the built `bss` executable: next to the test bundle (`<build>/release/bss` with scripts/test).
public func bssExecutable() throws -> URL {
    var dir = Bundle.main.bundleURL
    for b in Bundle.allBundles where b.bundleURL.pathExtension == "xctest" { dir = b.bundleURL.deletingLastPathComponent() }
    let candidates = [dir.appendingPathComponent("bss"), Bundle.main.bundleURL.appendingPathComponent("bss")]
    for c in candidates where FileManager.default.isExecutableFile(atPath: c.path) { return c }
    throw XCTSkip("the bss executable is not built next to the tests (\(dir.path)); run scripts/test (or `swift build --build-tests`) first")
}

/// Runs `bss` with `arguments` (cwd = `directory`, or the repository root) and captures output.
@discardableResult
public func runBSS(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> CLIResult {
    let p = Process()
    p.executableURL = try bssExecutable()
    p.arguments = arguments
    p.currentDirectoryURL = directory ?? fixturesURL.deletingLastPathComponent()
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
    final class Box: @unchecked Sendable { var data = Data() }
    let outBox = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let outData = outBox.data
    p.waitUntilExit()
    return CLIResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData, as: UTF8.self))
}

/// Asserts a failed run: non-zero exit, exactly one `bss: error:` line on stderr containing
/// every string in `mentions`, no stack trace.
public func assertCleanFailure(_ r: CLIResult, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertNotEqual(r.status, 0, "expected failure; stderr: \(r.stderr)", file: file, line: line)
    let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("bss: error:") || $0.hasPrefix("Error:") }
    XCTAssertEqual(lines.count, 1, "expected one error line, got: \(r.stderr)", file: file, line: line)
    for m in mentions {
        XCTAssertTrue(r.stderr.contains(m), "stderr should mention \(m): \(r.stderr)", file: file, line: line)
    }
    XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("Stack dump"), r.stderr, file: file, line: line)
}
