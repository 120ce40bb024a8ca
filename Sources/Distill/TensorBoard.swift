import Foundation
import ModelIO

/// A TensorBoard event file writer (scalars only), so `tensorboard --logdir DIR` shows a run.
///
/// The file (`events.out.tfevents.<seconds>.<host>.bss`) is a sequence of records
/// (docs/report.md, "TensorBoard"):
///
///     uint64 length (little endian) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
///
/// with `masked(c) = ((c >> 15) | (c << 17)) &+ 0xa282ead8` over CRC-32C (Castagnoli). Each
/// `data` is an `Event` protobuf, of which we write the few fields by hand:
/// `wall_time` (1, double), `step` (2, int64), `file_version` (3, string, first record
/// `brain.Event:2`), `summary` (5: repeated `Summary.Value` (1) with `tag` (1, string) and
/// `simple_value` (2, float)) and `session_log` (7: `status` (1) = START), which tells
/// TensorBoard to drop events at or after its step left by an interrupted run.
public final class TensorBoardWriter {
    public let url: URL
    private let handle: FileHandle

    /// Creates `directory` if needed and a new event file in it.
    public init(directory: String, now: Date = Date()) throws {
        let dir = URL(fileURLWithPath: directory)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw ModelIOError(.io, file: directory, "cannot create the TensorBoard directory: \(error.localizedDescription)")
        }
        let host = ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
        // TensorBoard reads a directory's files in name order: a later file (a resumed run)
        // must sort after the earlier ones, so a name already taken moves to the next second.
        var seconds = Int(now.timeIntervalSince1970)
        func name(_ s: Int) -> URL { dir.appendingPathComponent("events.out.tfevents.\(s).\(host.isEmpty ? "localhost" : host).bss") }
        while FileManager.default.fileExists(atPath: name(seconds).path) { seconds += 1 }
        url = name(seconds)
        guard FileManager.default.createFile(atPath: url.path, contents: nil), let h = FileHandle(forWritingAtPath: url.path) else {
            throw ModelIOError(.io, file: url.path, "cannot create the TensorBoard event file")
        }
        handle = h
        try write(Self.event(wallTime: now.timeIntervalSince1970, step: 0, body: Proto.bytes(3, Array("brain.Event:2".utf8))))
    }

    deinit { try? handle.close() }

    /// One event holding `values` (tag, value) at `step`.
    public func scalars(_ values: [(tag: String, value: Double)], step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        var summary: [UInt8] = []
        for (tag, v) in values where v.isFinite {
            summary += Proto.bytes(1, Proto.bytes(1, Array(tag.utf8)) + Proto.float(2, Float(v)))
        }
        guard !summary.isEmpty else { return }
        try write(Self.event(wallTime: wallTime, step: step, body: Proto.bytes(5, summary)))
    }

    /// A `SessionLog` START at `step`: TensorBoard discards events of this run at or after
    /// `step` written before it (the tail of an interrupted run that is being resumed).
    public func sessionStart(step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        try write(Self.event(wallTime: wallTime, step: step, body: Proto.bytes(7, Proto.varint(1, 1))))
    }

    /// Forces the bytes to disk (TensorBoard reads growing files).
    public func flush() { try? handle.synchronize() }

    static func event(wallTime: Double, step: Int, body: [UInt8]) -> [UInt8] {
        Proto.double(1, wallTime) + Proto.varint(2, UInt64(bitPattern: Int64(step))) + body
    }

    private func write(_ data: [UInt8]) throws {
        do { try handle.write(contentsOf: Self.record(data)) } catch {
            throw ModelIOError(.io, file: url.path, "cannot write: \(error.localizedDescription)")
        }
    }

    /// The framed record of `data`.
    public static func record(_ data: [UInt8]) -> Data {
        var length = UInt64(data.count).littleEndian
        let lengthBytes = withUnsafeBytes(of: &length) { Array($0) }
        var out = Data(lengthBytes)
        func u32(_ v: UInt32) { var le = v.littleEndian; withUnsafeBytes(of: &le) { out.append(contentsOf: $0) } }
        u32(maskedCRC32C(lengthBytes))
        out.append(contentsOf: data)
        u32(maskedCRC32C(data))
        return out
    }

    public static func maskedCRC32C(_ bytes: [UInt8]) -> UInt32 {
        let c = crc32c(bytes)
        return ((c >> 15) | (c << 17)) &+ 0xa282_ead8
    }

    /// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78); `crc32c("123456789") == 0xE3069283`.
    public static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xffff_ffff
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        return c ^ 0xffff_ffff
    }

    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82f6_3b78 : c >> 1 }
        return c
    }
}

/// The protobuf wire encoding of the few field types an `Event` needs.
enum Proto {
    static func key(_ field: Int, _ wireType: Int) -> [UInt8] { raw(UInt64(field << 3 | wireType)) }

    static func raw(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        while v >= 0x80 { out.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        out.append(UInt8(v))
        return out
    }

    static func varint(_ field: Int, _ v: UInt64) -> [UInt8] { key(field, 0) + raw(v) }
    static func double(_ field: Int, _ v: Double) -> [UInt8] { key(field, 1) + withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    static func float(_ field: Int, _ v: Float) -> [UInt8] { key(field, 5) + withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    static func bytes(_ field: Int, _ b: [UInt8]) -> [UInt8] { key(field, 2) + raw(UInt64(b.count)) + b }
}

/// The scalars of a distillation run in TensorBoard (`tensorboard` config key):
///
/// - per batch, at the global step `(epoch − 1) · batches + batch`: `batch/loss` and
///   `batch/accuracy` (running means over the epoch so far, as the progress bar shows) and
///   `batch/bss_acceptance` (accepted / attempted BSS so far in the epoch, `bss` only);
/// - per epoch, at step = epoch: `loss/total`, `loss/ce`, `loss/kd`, `loss/kd_bss`, `loss/val`,
///   `accuracy/train`, `accuracy/val`, `schedule/lr`, `schedule/alpha`, `schedule/beta`,
///   `bss/accepted`, `bss/attempted`, `bss/used`, `bss/acceptance`, `time/epoch_seconds`.
///
/// The first batch written by a process is preceded by a session START at its step, so a
/// resumed run replaces what the interrupted one logged after its last checkpoint.
public final class TrainingBoard {
    public let writer: TensorBoardWriter
    private var started = false
    /// The first write error, reported at the end of the epoch (batch callbacks cannot throw).
    private var failure: Error?

    public init(directory: String) throws { writer = try TensorBoardWriter(directory: directory) }

    public func batch(_ b: BatchProgress, bss: Bool) {
        guard failure == nil else { return }
        let step = (b.epoch - 1) * b.batches + b.batch
        do {
            if !started { try writer.sessionStart(step: step); started = true }
            var values: [(tag: String, value: Double)] = [("batch/loss", b.loss), ("batch/accuracy", b.accuracy)]
            if bss && b.bssAttempted > 0 { values.append(("batch/bss_acceptance", Double(b.bssAccepted) / Double(b.bssAttempted))) }
            try writer.scalars(values, step: step)
        } catch { failure = error }
    }

    public func epoch(_ m: EpochMetrics, bss: Bool) throws {
        if let failure { throw failure }
        var values: [(tag: String, value: Double)] = [
            ("loss/total", m.loss), ("loss/ce", m.ce), ("loss/kd", m.kd), ("accuracy/train", m.trainAccuracy),
            ("schedule/lr", m.lr), ("schedule/alpha", m.alpha), ("schedule/beta", m.beta), ("time/epoch_seconds", m.seconds),
        ]
        if let v = m.valAccuracy { values.append(("accuracy/val", v)) }
        if let v = m.valLoss { values.append(("loss/val", v)) }
        if bss {
            values += [("loss/kd_bss", m.kdBSS), ("bss/accepted", Double(m.bssAccepted)), ("bss/attempted", Double(m.bssAttempted)),
                       ("bss/used", Double(m.bssUsed))]
            if m.bssAttempted > 0 { values.append(("bss/acceptance", Double(m.bssAccepted) / Double(m.bssAttempted))) }
        }
        try writer.scalars(values, step: m.epoch)
        writer.flush()
    }
}
