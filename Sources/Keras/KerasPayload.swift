import Foundation
import ModelCore

/// What a model imported from Keras keeps for writing itself back (`Model.formatPayload["keras"]`,
/// JSON): the configuration exactly as read, the file's provenance attributes and, for legacy
/// HDF5 sources, the weight names as stored, so an `.h5 → .h5` export reproduces the file's
/// structure with new values.
struct KerasPayload: Codable, Equatable {
    static let key = "keras"

    /// "h5" (legacy HDF5 full model) or "keras" (`.keras` archive).
    var source: String
    /// The model config as read: `model_config` of an `.h5`, or `config.json` of a `.keras`.
    var config: String
    var kerasVersion: String?
    var backend: String?
    /// The `.h5` `training_config` attribute, if any (kept so Keras compiles the export the same way).
    var trainingConfig: String?
    /// Legacy `layer_names` and per-group `weight_names` as read (legacy weight files only).
    var legacyLayerNames: [String]?
    var legacyWeightNames: [String: [String]]?

    func encoded() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        // Encoding plain strings and string arrays cannot fail.
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    /// The payload of `model`, or nil if it was not imported from Keras.
    static func of(_ model: Model) -> KerasPayload? {
        guard let text = model.formatPayload[key] else { return nil }
        return try? JSONDecoder().decode(KerasPayload.self, from: Data(text.utf8))
    }
}
