import Foundation
import ModelCore
import SafeTensors

extension StateDict {
    /// The tensors of a `.safetensors` file as a state dict, its `__metadata__` kept and any
    /// widening recorded in `readConversions`.
    public init(safeTensors contents: SafeTensors.Contents) {
        self.init(entries: contents.entries, metadata: contents.metadata)
        if !contents.widened.isEmpty {
            var counts: [String: Int] = [:]
            for w in contents.widened { counts[w.dtype, default: 0] += 1 }
            let list = counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            readConversions.append("\(list) tensor\(contents.widened.count == 1 ? "" : "s") widened to float32 on reading (exact: float32 holds every value of these types)")
        }
    }
}

extension SafeTensors {
    /// Key of `Model.formatPayload` holding the `__metadata__` of the file a model was read
    /// from, as JSON with sorted keys.
    static let payloadKey = "safetensors.metadata"

    /// The `__metadata__` kept from the file `model` was read from, if it was a `.safetensors`
    /// file with one.
    public static func metadata(of model: Model) -> [String: String]? {
        guard let text = model.formatPayload[payloadKey] else { return nil }
        return try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))
    }

    static func keep(_ metadata: [String: String]?, in model: Model) {
        guard let metadata else { return }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        // Encoding a string map cannot fail.
        model.formatPayload[payloadKey] = String(decoding: try! e.encode(metadata), as: UTF8.self)
    }

    /// The metadata to write: the kept one, with `format: pt` added when it names no format
    /// (what `safetensors.torch.save_file` users and `transformers` expect of PyTorch weights).
    public static func metadataForWriting(_ kept: [String: String]?) -> [String: String] {
        var out = kept ?? [:]
        if out[formatMetadata.0] == nil { out[formatMetadata.0] = formatMetadata.1 }
        return out
    }
}

extension ModelLoader {
    /// A PyTorch state dict in `.safetensors`, loaded into the architecture `arch` strictly;
    /// the file's `__metadata__` is kept on the model for writing it back.
    static func loadSafeTensors(_ url: URL, path: String, arch: String?) throws -> Model {
        guard let arch else {
            throw ModelIOError(.mismatch, file: path, "a safetensors state dict holds weights only: give its architecture with --arch (a preset such as heo2019-resnet26, or a JSON spec)")
        }
        let stateDict = StateDict(safeTensors: try SafeTensors.read(url))
        let model = try fromStateDict(stateDict, arch: arch, file: path, format: .stateDictSafeTensors)
        model.conversions += stateDict.readConversions
        SafeTensors.keep(stateDict.metadata, in: model)
        return model
    }
}
