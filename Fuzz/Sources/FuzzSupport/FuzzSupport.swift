import Diagnostics
import Foundation
import ModelCore

/// What every harness checks besides "no crash, no hang, no leak past the limits": a parser
/// either succeeds or throws one user-facing error (`ModelIOError`, or `RunConfigError` for a
/// run config that parses but cannot work) whose text is one line. Anything else (another
/// error type, a multi-line message) is a finding, reported by trapping so libFuzzer saves the
/// input.
public enum Fuzz {
    /// Sets a small memory budget (readers must refuse larger declared sizes before
    /// allocating) once per process; libFuzzer's -malloc_limit_mb catches what slips past.
    public static let setUp: Void = {
        MemoryBudget.bytes = 64 << 20
    }()

    /// Runs `body`, trapping on an error that is not a one-line `UserFacingError`.
    public static func run(_ body: () throws -> Void) {
        _ = setUp
        do { try body() } catch let e as UserFacingError {
            let text = e.oneLine
            if text.contains("\n") || text.contains("\r") { fatalError("multi-line error: \(text)") }
        } catch {
            fatalError("not a user-facing error: \(type(of: error)): \(error)")
        }
    }

    /// A scratch folder of this process (`/dev/shm` when present: no disk writes per input).
    public static let folder: URL = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base).appendingPathComponent("bss-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: Fuzz.folder) }
        return url
    }()

    /// Writes `bytes` to `name` in the scratch folder and returns its URL.
    public static func file(_ bytes: UnsafeRawBufferPointer, name: String) -> URL {
        let url = folder.appendingPathComponent(name)
        FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
        return url
    }

    /// The input as `Data` (copied: parsers may keep it).
    public static func data(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Data { Data(bytes: bytes, count: size) }
}
