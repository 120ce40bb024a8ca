import Distill
import Foundation
import ModelIO
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Hostile run configs: a few hundred bytes must not grow to gigabytes (YAML aliases), overflow
/// the stack (deep nesting) or silently pick one of two values (duplicate keys).
final class HostileConfigTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("hostile-config") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func write(_ name: String, _ text: String) -> String {
        let url = dir.appendingPathComponent(name)
        try! Data(text.utf8).write(to: url)
        return url.path
    }

    func assertRefused(_ path: String, _ mentions: [String], line: UInt = #line) {
        let start = Date()
        do {
            _ = try RunConfig.entries(ofFile: path)
            XCTFail("\(path) was accepted", line: line)
        } catch let e as ModelIOError {
            for m in [URL(fileURLWithPath: path).lastPathComponent] + mentions {
                XCTAssertTrue(e.description.contains(m), "'\(e)' lacks '\(m)'", line: line)
            }
            XCTAssertFalse(e.description.contains("\n"), "not one line: \(e)", line: line)
        } catch {
            XCTFail("not a ModelIOError: \(error)", line: line)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2, line: line)
    }

    /// "Billion laughs": 9 levels of 9 aliases, 10^9 strings once expanded, in 342 bytes.
    func testYAMLAliasesAreRefused() {
        var lines = [#"a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]"#]
        var previous = "a"
        for name in ["b", "c", "d", "e", "f", "g", "h", "i"] {
            lines.append("\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]")
            previous = name
        }
        assertRefused(write("laughs.yaml", lines.joined(separator: "\n")), ["aliases", "line 2"])
    }

    func testDeeplyNestedYAMLIsRefusedBeforeParsing() {
        let flow = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        assertRefused(write("flow.yaml", "epochs: \(flow)\n"), ["nesting deeper than 64"])
        var block = ""
        for depth in 0..<100 { block += String(repeating: " ", count: depth) + "k\(depth):\n" }
        assertRefused(write("block.yaml", block + String(repeating: " ", count: 100) + "v: 1\n"), ["nesting deeper than 64"])
        // Moderate nesting is still parsed (the key's own check judges the value later).
        XCTAssertNoThrow(try RunConfig.entries(ofFile: write("fine.yaml", "lr_milestones: [[[0.5]]]\n")))
    }

    func testDuplicateKeysAreRefused() {
        assertRefused(write("dup.yaml", "epochs: 3\nlr: 0.1\nepochs: 5\n"), ["duplicate key 'epochs'", "line 3"])
        assertRefused(write("dup.json", #"{"epochs": 3, "epochs": 5}"#), ["duplicate key \"epochs\""])
        assertRefused(write("deep.json", String(repeating: "[", count: 50_000)), ["nesting deeper"])
        // The same key in two different mappings is fine.
        XCTAssertNoThrow(try RunConfig.entries(ofFile: write("ok.yaml", "epochs: 3\nlr_milestones: [0.5, 0.75]\n")))
    }

    func testNamedPipeConfigIsRefused() {
        let fifo = dir.appendingPathComponent("run.yaml").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? RunConfig.entries(ofFile: fifo)
            done.signal()
        }
        if done.wait(timeout: .now() + 5) == .timedOut {
            XCTFail("reading a FIFO config blocks")
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
            _ = done.wait(timeout: .now() + 5)
            return
        }
        assertRefused(fifo, ["named pipe"])
    }
}
