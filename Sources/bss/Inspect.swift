import ArgumentParser
import Foundation
import ModelIO
import NN

/// `bss inspect MODEL`: what the model is, layer by layer.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's source format, layers, output shapes, parameter counts and layout conversions.",
        discussion: """
            Example:
              bss inspect model.npz --arch heo2019-resnet26 --json
            """)

    @OptionGroup var model: ModelOptions
    @Flag(help: "Print JSON instead of text.") var json = false
    @OptionGroup var safety: InputSafetyOptions

    func run() throws {
        safety.apply()
        let m = try model.load()
        let g = m.graph
        if json {
            let layers: [[String: Any]] = g.nodes.map { n in
                ["name": n.name, "kind": n.layer.kind, "summary": n.layer.summary,
                 "output_shape": n.outputShape, "parameters": n.layer.parameterCount,
                 "inputs": n.inputs.map { s -> String in
                     if case let .node(j) = s { return g.nodes[j].name }; return "input" }]
            }
            say(jsonString(["file": m.file ?? "", "format": m.format.rawValue, "architecture": m.architectureName,
                            "input_shape": g.inputShape, "input_layout": m.inputLayout.rawValue, "classes": m.classes,
                            "parameters": g.parameterCount, "layers": layers, "conversions": m.conversions,
                            "softmax_split_off": m.softmaxSplitOff]
                            .merging(SafeTensors.metadata(of: m).map { ["safetensors_metadata": $0] } ?? [:]) { a, _ in a }))
            return
        }
        say("model:        \(m.file ?? m.architectureName)")
        say("format:       \(m.format.rawValue)")
        if let metadata = SafeTensors.metadata(of: m) {
            say("metadata:     " + (metadata.isEmpty ? "(empty __metadata__)"
                                    : metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")))
        }
        say("architecture: \(m.architectureName)")
        if let opset = m.formatPayload["onnx.opset"] {
            say("onnx:         opset \(opset), IR version \(m.formatPayload["onnx.ir_version"] ?? "?"), producer \(m.formatPayload["onnx.producer"].flatMap { $0.isEmpty ? nil : $0 } ?? "unknown")")
        }
        say("input:        \(g.inputShape) per sample (engine layout NCHW; data read as \(m.inputLayout.rawValue.uppercased()) by default)")
        say("classes:      \(m.classes)")
        say("")
        let rows = g.nodes.map { n -> [String] in
            let ins = n.inputs.map { s -> String in if case let .node(j) = s { return g.nodes[j].name }; return "input" }
            return [n.name, n.layer.kind, n.layer.summary, "\(n.outputShape)", "\(n.layer.parameterCount)",
                    ins.count > 1 || (ins.first != nil && n.inputs.first != previous(n, g)) ? ins.joined(separator: " + ") : ""]
        }
        let header = ["layer", "type", "config", "output", "params", "inputs"]
        let widths = (0..<header.count).map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }
        func line(_ r: [String]) -> String {
            zip(r, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        say(line(header))
        for r in rows { say(line(r)) }
        say("")
        say("total parameters: \(g.parameterCount)")
        if m.softmaxSplitOff { say("output: logits (the source model's final softmax was split off; probabilities = softmax(logits))") }
        if !m.conversions.isEmpty {
            say("conversions on import:")
            for c in m.conversions { say("  - \(c)") }
        }
    }

    /// The source a chain layer would take by default (the previous node).
    func previous(_ n: Graph.Node, _ g: Graph) -> Graph.Source? {
        guard let i = g.nodes.firstIndex(where: { $0.name == n.name }) else { return nil }
        return i == 0 ? .input : .node(i - 1)
    }
}
