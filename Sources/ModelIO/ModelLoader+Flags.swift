import Foundation
import ModelCore

extension ModelLoader {
    /// `load(_:arch:)` for a command whose architecture option is not spelled `--arch`
    /// (`--teacher-arch`, `--a-arch`, ...): hints in errors name `archFlag`, so an error never
    /// recommends an option the command does not have.
    /// `inputShape` (`--input-shape`) is passed on for `.onnx` files only, so one flag can serve
    /// a command that reads models of several formats.
    public static func load(_ path: String, arch: String?, archFlag: String, inputShape: [Int]? = nil) throws -> Model {
        let shape = URL(fileURLWithPath: path).pathExtension.lowercased() == "onnx" ? inputShape : nil
        do { return try load(path, arch: arch, inputShape: shape) } catch var e as ModelIOError {
            e.message = ModelIOError.renamingFlag("--arch", to: archFlag, in: e.message)
            throw e
        }
    }
}

extension ModelIOError {
    /// `text` with every whole-word `flag` (not a longer flag such as `--arch-x`) replaced by `replacement`.
    public static func renamingFlag(_ flag: String, to replacement: String, in text: String) -> String {
        guard flag != replacement else { return text }
        var out = "", rest = Substring(text)
        while let r = rest.range(of: flag) {
            let next = rest[r.upperBound...].first
            let whole = next.map { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") } ?? true
            out += rest[..<r.lowerBound] + (whole ? replacement : flag)
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
