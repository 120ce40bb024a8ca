import Distill
import Foundation
import XCTest

/// TensorBoard event files: CRC-32C and record framing by hand, and the files read back by
/// TensorBoard's own `event_accumulator` (skipped without python3 and the tensorboard package).
final class TensorBoardTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func testCRC32CAndFraming() {
        XCTAssertEqual(TensorBoardWriter.crc32c(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(TensorBoardWriter.crc32c([]), 0)
        let data: [UInt8] = [1, 2, 3]
        let r = [UInt8](TensorBoardWriter.record(data))
        XCTAssertEqual(r.count, 8 + 4 + 3 + 4)
        XCTAssertEqual(Array(r[0..<8]), [3, 0, 0, 0, 0, 0, 0, 0])
        let crc = UInt32(r[15]) | UInt32(r[16]) << 8 | UInt32(r[17]) << 16 | UInt32(r[18]) << 24
        XCTAssertEqual(crc, TensorBoardWriter.maskedCRC32C(data))
        let c = TensorBoardWriter.crc32c(data)
        XCTAssertEqual(crc, ((c >> 15) | (c << 17)) &+ 0xa282_ead8)
    }

    func testTensorBoardReadsScalarsAndPurgesAfterResume() throws {
        let first = try TensorBoardWriter(directory: dir.path, now: Date(timeIntervalSince1970: 1_700_000_000))
        for step in 1...5 { try first.scalars([("batch/loss", 1.0 / Double(step)), ("batch/accuracy", 0.1 * Double(step))], step: step) }
        try first.scalars([("schedule/lr", 0.1)], step: 1)
        first.flush()
        // A resumed run: a later file, START at step 4 drops the old steps 4 and 5.
        let second = try TensorBoardWriter(directory: dir.path, now: Date(timeIntervalSince1970: 1_700_000_000))
        XCTAssertNotEqual(first.url, second.url)
        try second.sessionStart(step: 4)
        try second.scalars([("batch/loss", 0.125)], step: 4)
        second.flush()
        let script = """
            import json, sys
            try:
                from tensorboard.backend.event_processing import event_accumulator as ea
            except ImportError:
                print("NO-TENSORBOARD"); sys.exit(0)
            acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0})
            acc.Reload()
            print(json.dumps({t: [[e.step, e.value] for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}))
            """
        let out = try pythonOutput(script, [dir.path])
        if out.contains("NO-TENSORBOARD") { throw XCTSkip("the python package tensorboard is not installed (pip install tensorboard)") }
        let tags = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: [[Double]]])
        XCTAssertEqual(Set(tags.keys), ["batch/loss", "batch/accuracy", "schedule/lr"])
        XCTAssertEqual(tags["batch/loss"]!.map { $0[0] }, [1, 2, 3, 4])
        XCTAssertEqual(tags["batch/loss"]![3][1], 0.125, accuracy: 1e-7)
        XCTAssertEqual(tags["batch/accuracy"]!.map { $0[0] }, [1, 2, 3])
        XCTAssertEqual(tags["batch/accuracy"]![2][1], 0.3, accuracy: 1e-6)
        XCTAssertEqual(tags["schedule/lr"]![0][1], 0.1, accuracy: 1e-7)
    }
}

/// Runs `python3 -c script args…`; skips when python3 is not on PATH.
func pythonOutput(_ script: String, _ args: [String]) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin"
    guard let exe = path.split(separator: ":").map({ "\($0)/python3" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw XCTSkip("python3 is not installed")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = ["-c", script] + args
    let out = Pipe()
    let err = FileManager.default.temporaryDirectory.appendingPathComponent("py-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: err.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: err) }
    p.standardOutput = out
    p.standardError = try FileHandle(forWritingTo: err)
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    XCTAssertEqual(p.terminationStatus, 0, String(decoding: (try? Data(contentsOf: err)) ?? Data(), as: UTF8.self))
    return String(decoding: data, as: UTF8.self)
}
