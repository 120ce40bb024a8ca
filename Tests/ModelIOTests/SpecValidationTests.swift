import Foundation
import XCTest
@testable import ModelCore
@testable import ModelIO
import TestSupport

/// Spec validation: every unknown field, wrong type and out-of-range value is one clear error
/// naming the file, the layer and the field, before any layer is made; the JSON Schema lists
/// exactly the fields the validator accepts.
final class SpecValidationTests: XCTestCase {
    /// A small valid spec whose first layer is `first` (a conv2d 3→4 unless replaced).
    func spec(first: String = #"{"name":"c","type":"conv2d","in_channels":3,"out_channels":4,"kernel":3,"padding":1}"#,
              top: String = #""input_shape":[3,8,8],"classes":2"#, extra: String = "") -> String {
        """
        {\(top),"layers":[\(first),\(extra)
          {"name":"gap","type":"global_avgpool"},
          {"name":"fc","type":"linear","in_features":4,"out_features":2}]}
        """
    }

    func write(_ json: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spec-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        return url
    }

    func assertRejected(_ json: String, _ needles: [String], line: UInt = #line) throws {
        let url = try write(json)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try ModelLoader.fresh(arch: url.path), json, line: line) { error in
            let msg = "\(error)"
            XCTAssertTrue(msg.hasPrefix(url.path + ": "), msg, line: line)
            XCTAssertFalse(msg.contains("\n"), msg, line: line)
            for n in needles { XCTAssertTrue(msg.contains(n), "'\(msg)' should contain '\(n)'", line: line) }
        }
    }

    func conv(_ fields: String) -> String {
        #"{"name":"c","type":"conv2d","in_channels":3,"out_channels":4,"kernel":3,"padding":1,"# + fields + "}"
    }

    func testValidSpecLoads() throws {
        let url = try write(spec())
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertEqual(try ModelLoader.fresh(arch: url.path).classes, 2)
    }

    func testUnknownFieldsAreErrorsAtEveryLevel() throws {
        let c = "layer 'c': "
        try assertRejected(spec(first: conv(#""strides":2"#)), [c + "field 'strides'", "unknown field for a conv2d layer", "did you mean 'stride'?"])
        try assertRejected(spec(first: conv(#""activation":"relu""#)), [c + "field 'activation'", "unknown field", "fields: name, type, inputs"])
        try assertRejected(spec(first: #"{"name":"c","type":"relu","p":0.5}"#), [c + "field 'p'", "unknown field for a relu layer"])
        try assertRejected(spec(top: #""input_shape":[3,8,8],"classes":2,"clases":3"#), ["field 'clases'", "did you mean 'classes'?"])
        // Only layers with parameters take key overrides, and only for their own parameters.
        try assertRejected(spec(first: conv(#""keys":{"gamma":"x.weight"}"#)), [c + "field 'keys'", "'gamma' is not a parameter of a conv2d layer"])
        try assertRejected(spec(extra: #"{"name":"r","type":"relu","keys":{"weight":"w"}},"#), ["layer 'r': field 'keys'", "unknown field"])
    }

    func testOptionsWeDoNotModelSayNotSupportedYet() throws {
        let cases: [(String, String, String)] = [
            (#"{"name":"c","type":"maxpool2d","kernel":2,"dilation":2}"#, "dilation", "2 is not supported yet (only 1, no dilation)"),
            (conv(#""padding_mode":"reflect""#), "padding_mode", "\"reflect\" is not supported yet (only \"zeros\")"),
        ]
        for (layer, field, needle) in cases {
            try assertRejected(spec(first: layer), ["layer 'c': field '\(field)'", needle])
        }
        // Their neutral values are what we compute, so they are accepted.
        let url = try write(spec(first: conv(#""dilation":[1,1],"groups":1,"padding_mode":"zeros""#),
                                 extra: #"{"name":"m","type":"maxpool2d","kernel":2,"dilation":1,"ceil_mode":false},"#))
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertNoThrow(try ModelLoader.fresh(arch: url.path))
    }

    func testWrongTypesAndOutOfRangeValuesAreErrorsNotTraps() throws {
        let c = "layer 'c': "
        let cases: [(String, [String])] = [
            (#"{"name":"c","type":"conv2d","in_channels":3,"out_channels":0,"kernel":3}"#, [c + "field 'out_channels'", "must be ≥ 1, found 0"]),
            (#"{"name":"c","type":"conv2d","in_channels":-3,"out_channels":4,"kernel":3}"#, [c + "field 'in_channels'", "found -3"]),
            (conv(#""stride":0"#), [c + "field 'stride'", "must be ≥ 1, found 0"]),
            (#"{"name":"c","type":"conv2d","in_channels":3,"out_channels":4,"kernel":[3,0]}"#, [c + "field 'kernel'", "found [3, 0]"]),
            (#"{"name":"c","type":"conv2d","in_channels":3,"out_channels":4,"kernel":0}"#, [c + "field 'kernel'", "must be ≥ 1, found 0"]),
            (#"{"name":"c","type":"conv2d","in_channels":3,"out_channels":4,"kernel":3,"padding":-1}"#, [c + "field 'padding'", "must be ≥ 0"]),
            (#"{"name":"c","type":"conv2d","in_channels":3,"out_channels":4,"kernel":3,"padding":[1,1,1]}"#, [c + "field 'padding'", "[top, bottom, left, right]"]),
            (#"{"name":"c","type":"conv2d","in_channels":3,"out_channels":4,"kernel":"3"}"#, [c + "field 'kernel'", "expected an integer ≥ 1 or [h, w]", "found \"3\""]),
            (conv(#""bias":1"#), [c + "field 'bias'", "expected true or false, found 1"]),
            (conv(#""groups":2"#), [c + "field 'groups'", "2 groups must divide in_channels 3"]),
            (conv(#""groups":0"#), [c + "field 'groups'", "must be ≥ 1, found 0"]),
            (conv(#""dilation":[2,0]"#), [c + "field 'dilation'", "found [2, 0]"]),
            (#"{"name":"c","type":"conv2d","in_channels":2.5,"out_channels":4,"kernel":3}"#, [c + "field 'in_channels'", "expected an integer ≥ 1, found 2.5"]),
            (#"{"name":"c","type":"conv2d","in_channels":3,"kernel":3}"#, [c + "field 'out_channels'", "missing field (a conv2d layer needs in_channels, out_channels, kernel)"]),
            (#"{"name":"c","type":"batchnorm","channels":3,"eps":0}"#, [c + "field 'eps'", "must be > 0, found 0"]),
            (#"{"name":"c","type":"batchnorm","channels":3,"eps":-1e-5}"#, [c + "field 'eps'", "must be > 0"]),
            (#"{"name":"c","type":"batchnorm","channels":3,"momentum":1.5}"#, [c + "field 'momentum'", "must be in [0, 1]"]),
            (#"{"name":"c","type":"dropout","p":1}"#, [c + "field 'p'", "must be in [0, 1), found 1"]),
            (#"{"name":"c","type":"dropout","p":-0.1}"#, [c + "field 'p'", "must be in [0, 1)"]),
            (#"{"name":"c","type":"flatten","order":"nwhc"}"#, [c + "field 'order'", "expected \"nchw\" or \"nhwc\""]),
            (#"{"name":"c","type":"shortcut_a","out_channels":6,"stride":[2,1]}"#, [c + "field 'stride'", "height and width alike"]),
            (#"{"name":"c","type":"shortcut_a","out_channels":6,"pad_before":-1}"#, [c + "field 'pad_before'", "must be ≥ 0"]),
            (#"{"name":"c","type":"add","inputs":["input"]}"#, [c + "field 'inputs'", "add needs two or more inputs, found 1"]),
            (#"{"name":"c","type":"add"}"#, [c + "field 'inputs'", "missing field"]),
            (#"{"name":"c","type":"multiply","inputs":["input","input","input"]}"#, [c + "field 'inputs'", "multiply takes two inputs, found 3"]),
            (#"{"name":"c","type":"concat"}"#, [c + "field 'inputs'", "missing field"]),
            (#"{"name":"c","type":"slice","start":2,"end":2}"#, [c + "field 'end'", "end > start"]),
            (#"{"name":"c","type":"slice","start":-1,"end":2}"#, [c + "field 'start'", "must be ≥ 0"]),
            (#"{"name":"c","type":"channel_shuffle"}"#, [c + "field 'groups'", "missing field"]),
            (#"{"name":"c","type":"adaptive_avgpool2d","output_size":[7,0]}"#, [c + "field 'output_size'", "found [7, 0]"]),
            (#"{"name":"c","type":"maxpool2d","kernel":2,"ceil_mode":1}"#, [c + "field 'ceil_mode'", "expected true or false"]),
            (#"{"name":"c","type":"relu","inputs":["input","input"]}"#, [c + "field 'inputs'", "takes one input, found 2"]),
            (#"{"name":"c","type":"relu","inputs":["nowhere"]}"#, [c + "field 'inputs'", "input 'nowhere' is not a layer defined before it"]),
            (#"{"name":"c","type":"gru"}"#, [c + "field 'type'", "unknown layer type 'gru'"]),
            (#"{"name":"","type":"relu"}"#, ["layer [0]: field 'name'", "non-empty string"]),
            (#"{"type":"relu"}"#, ["layer [0]: field 'name'", "missing field"]),
            (#"{"name":"input","type":"relu"}"#, ["layer 'input'", "reserved"]),
        ]
        for (layer, needles) in cases { try assertRejected(spec(first: layer), needles) }
        try assertRejected(spec(extra: #"{"name":"c","type":"relu"},"#), ["layer 'c'", "duplicate layer name"])
        try assertRejected(spec(top: #""input_shape":[3,8,8],"classes":0"#), ["field 'classes'", "must be ≥ 1, found 0"])
        try assertRejected(spec(top: #""input_shape":[3,8,8,1],"classes":2"#), ["field 'input_shape'", "[channels, height, width]"])
        try assertRejected(spec(extra: #"{"name":"r","type":"reshape","shape":[-1,-1]},"#), ["layer 'r': field 'shape'", "at most one of them -1"])
        try assertRejected(spec(top: #""input_shape":[3,0,8],"classes":2"#), ["field 'input_shape'", "integers ≥ 1"])
        try assertRejected(spec(top: #""input_shape":[3,8,8],"classes":2,"output":"nope""#), ["field 'output'", "no layer named 'nope'"])
        try assertRejected(spec(top: #""input_shape":[3,8,8],"classes":2,"version":2"#), ["field 'version'", "not supported yet"])
        try assertRejected(spec(top: #""input_shape":[3,8,8],"classes":2,"format":"keras""#), ["field 'format'", "\"bss-architecture\""])
        try assertRejected(#"{"input_shape":[3,8,8],"classes":2,"layers":[]}"#, ["field 'layers'", "non-empty array"])
        try assertRejected("[1, 2]", ["a JSON object"])
    }

    /// The check runs before any layer is made: a typo next to an absurd size fails at once.
    func testValidationComesBeforeAllocation() throws {
        try assertRejected(spec(first: #"{"name":"c","type":"conv2d","in_channels":3,"out_channels":2000000000,"kernel":9000,"strides":2}"#),
                           ["layer 'c': field 'strides'"])
    }

    /// Presets go through the same validator; a spec derived from a graph round-trips.
    func testPresetsAndDerivedSpecsValidate() throws {
        for name in Presets.names where !name.hasPrefix("mlp") {
            let spec = try XCTUnwrap(try Presets.spec(named: name))
            XCTAssertNoThrow(try SpecValidator.validate(spec, origin: name), name)
        }
        let m = try ModelLoader.fresh(arch: "akamaster-resnet20")
        let derived = try ArchitectureSpec.fromGraph(m.graph, name: "x")
        XCTAssertNoThrow(try SpecValidator.validate(derived, origin: "x"))
        XCTAssertEqual(derived.layers.first { $0.type == "shortcut_a" }?.padBefore, 8)
    }

    // MARK: - Schema agreement

    func schema() throws -> [String: Any] {
        let url = fixturesURL.deletingLastPathComponent().appendingPathComponent("Schemas/architecture.schema.json")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func testSchemaListsExactlyTheFieldsTheValidatorAccepts() throws {
        let s = try schema()
        let defs = try XCTUnwrap(s["$defs"] as? [String: Any])
        let topProps = Set(try XCTUnwrap(s["properties"] as? [String: Any]).keys)
        XCTAssertEqual(topProps, Set(SpecFields.topLevel.map(\.name)))
        XCTAssertEqual(Set(try XCTUnwrap(s["required"] as? [String])), Set(SpecFields.topLevel.filter(\.required).map(\.name)))
        let layer = try XCTUnwrap(defs["layer"] as? [String: Any])
        let typeEnum = try XCTUnwrap(((layer["properties"] as? [String: Any])?["type"] as? [String: Any])?["enum"] as? [String])
        XCTAssertEqual(Set(typeEnum), Set(SpecFields.byType.keys))
        XCTAssertEqual(Set(typeEnum), Set(GraphBuilder.supportedTypes))
        let branches = try XCTUnwrap(layer["allOf"] as? [[String: Any]])
        XCTAssertEqual(branches.count, typeEnum.count)
        for type in typeEnum {
            let def = try XCTUnwrap(defs[type] as? [String: Any], type)
            XCTAssertEqual(def["additionalProperties"] as? Bool, false, type)
            let fields = try XCTUnwrap(SpecFields.fields(for: type))
            XCTAssertEqual(Set(try XCTUnwrap(def["properties"] as? [String: Any]).keys), Set(fields.map(\.name)), type)
            XCTAssertEqual(Set(try XCTUnwrap(def["required"] as? [String])), Set(fields.filter(\.required).map(\.name)), type)
            if let keys = (def["properties"] as? [String: Any])?["keys"] as? [String: Any] {
                let names = (keys["propertyNames"] as? [String: Any])?["enum"] as? [String]
                XCTAssertEqual(names.map(Set.init), SpecFields.parameters[type].map(Set.init), type)
            }
        }
    }
}
