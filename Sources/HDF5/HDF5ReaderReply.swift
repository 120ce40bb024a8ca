import Foundation
import ModelCore

/// What the HDF5 reader child writes to its parent (HDF5Isolation.swift): `O` and the clean
/// image's bytes, or `E` and the `ModelIOError` as JSON. A child that died of a signal wrote
/// nothing useful; that becomes the one-line "the HDF5 library crashed" error.
enum HDF5ReaderReply {
    private struct Failure: Codable {
        var kind: String
        var location: String?
        var message: String
    }

    static func encode(_ result: Result<Data, ModelIOError>) -> Data {
        switch result {
        case .success(let image):
            return Data("O".utf8) + image
        case .failure(let e):
            let body = (try? JSONEncoder().encode(Failure(kind: e.kind.rawValue, location: e.location, message: e.message))) ?? Data()
            return Data("E".utf8) + body
        }
    }

    /// The clean image, or the error the child reported or died of. `exit` is the wait status.
    static func decode(_ output: Data, exit: Int32, name: String) throws -> Data {
        let signal = exit & 0x7f
        if signal != 0 && signal != 0x7f {
            throw ModelIOError(.malformed, file: name,
                               "corrupted HDF5 file: the HDF5 library crashed reading it (\(signalName(signal)) in the isolated reader process)")
        }
        let status = (exit >> 8) & 0xff
        if status == 0, let tag = output.first {
            let body = output.dropFirst()
            if tag == UInt8(ascii: "O") { return Data(body) }
            if tag == UInt8(ascii: "E"), let f = try? JSONDecoder().decode(Failure.self, from: body),
               let kind = ModelIOError.Kind(rawValue: f.kind) {
                throw ModelIOError(kind, file: name, location: f.location, f.message)
            }
        }
        throw ModelIOError(.io, file: name, "the isolated HDF5 reader process failed (exit status \(status)) without a result")
    }

    private static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGSEGV: return "SIGSEGV"
        case SIGBUS: return "SIGBUS"
        case SIGABRT: return "SIGABRT"
        case SIGILL: return "SIGILL"
        case SIGFPE: return "SIGFPE"
        case SIGTRAP: return "SIGTRAP"
        case SIGKILL: return "SIGKILL, out of memory?"
        default: return "signal \(signal)"
        }
    }
}
