import ArgumentParser
import Foundation
import ModelIO

/// `bss presets`: every built-in architecture, whose code it matches, its size and input.
struct PresetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presets",
        abstract: "List the built-in architectures (--arch NAME): source code base, parameter count, input size.",
        discussion: """
            Example:
              bss presets --classes 100
            """)

    @Option(help: "Class count used for the parameter counts (a checkpoint's own count wins when loading one).")
    var classes = 10
    @Flag(help: "Print JSON instead of text.") var json = false

    func validate() throws {
        guard classes >= 1 else { throw ValidationError("--classes must be at least 1") }
    }

    func run() throws {
        var rows: [[String: Any]] = []
        for name in Presets.names {
            let family = Presets.family(of: name)
            var row: [String: Any] = ["name": name, "family": family?.prefix ?? "", "source": Presets.source(of: name) ?? ""]
            if !name.hasPrefix("mlp:") {
                let m = try ModelLoader.fresh(arch: name, classes: classes)
                row["parameters"] = m.graph.parameterCount
                row["input_shape"] = m.graph.inputShape
            }
            rows.append(row)
        }
        if json {
            say(jsonString(["classes": classes, "presets": rows,
                            "families": Presets.families.map { ["prefix": $0.prefix, "source": $0.source, "note": $0.note] }]))
            return
        }
        let width = (rows.map { ($0["name"] as! String).count }.max() ?? 4) + 2
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(1, w - s.count)) }
        say(pad("preset", width) + pad("parameters", 13) + pad("input", 12) + "source")
        for r in rows {
            let params = (r["parameters"] as? Int).map(grouped) ?? "(by name)"
            let input = (r["input_shape"] as? [Int]).map { $0.map(String.init).joined(separator: "x") } ?? "I"
            say(pad(r["name"] as! String, width) + pad(params, 13) + pad(input, 12) + (r["source"] as! String))
        }
        say("")
        say("Parameter counts for \(classes) classes. Families:")
        for f in Presets.families { say("  \(pad(f.prefix, 14))\(f.note)") }
        say("A checkpoint's class count is read from its classifier weight; `bss verify` checks a family choice against reference logits.")
    }
}

/// 1234567 → "1,234,567".
func grouped(_ n: Int) -> String {
    var digits = Array(String(n)), out = ""
    while digits.count > 3 { out = "," + String(digits.suffix(3)) + out; digits.removeLast(3) }
    return String(digits) + out
}
