import Foundation

/// A small JSON Schema (draft 2020-12) validator for the keywords our schemas use, so schema
/// tests run without Python: `type`, `const`, `enum`, `required`, `properties`,
/// `additionalProperties` (boolean), `items`, `minItems`, `maxItems`, `minimum`,
/// `exclusiveMinimum`, `pattern`, `oneOf` and local `$ref` (`#/$defs/name`). Annotations
/// (`title`, `description`, `$id`, `$schema`) are ignored; an unknown keyword fails loudly so a
/// schema never silently outgrows the validator.
struct JSONSchemaValidator {
    let root: [String: Any]

    init(schemaAt url: URL) throws {
        root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    /// Every violation as "path: problem"; empty when `value` is valid.
    func errors(_ value: Any) -> [String] {
        var out: [String] = []
        check(value, against: root, at: "$", into: &out)
        return out
    }

    private static let annotations: Set<String> = ["title", "description", "$id", "$schema", "$defs"]

    private func check(_ value: Any, against schema: [String: Any], at path: String, into out: inout [String]) {
        for (keyword, rule) in schema {
            switch keyword {
            case _ where Self.annotations.contains(keyword): continue
            case "$ref":
                let name = (rule as! String).replacingOccurrences(of: "#/$defs/", with: "")
                guard let defs = root["$defs"] as? [String: Any], let target = defs[name] as? [String: Any] else {
                    out.append("\(path): unresolvable $ref \(rule)"); continue
                }
                check(value, against: target, at: path, into: &out)
            case "type":
                let types = (rule as? [String]) ?? [rule as! String]
                if !types.contains(where: { Self.isType(value, $0) }) { out.append("\(path): expected \(types), found \(value)") }
            case "const":
                if !Self.equal(value, rule) { out.append("\(path): expected \(rule), found \(value)") }
            case "enum":
                if !(rule as! [Any]).contains(where: { Self.equal(value, $0) }) { out.append("\(path): \(value) not in \(rule)") }
            case "required":
                guard let object = value as? [String: Any] else { continue }
                for key in rule as! [String] where object[key] == nil { out.append("\(path): missing '\(key)'") }
            case "properties":
                guard let object = value as? [String: Any] else { continue }
                for (key, sub) in rule as! [String: Any] {
                    if let v = object[key] { check(v, against: sub as! [String: Any], at: "\(path).\(key)", into: &out) }
                }
            case "additionalProperties":
                guard let object = value as? [String: Any], (rule as? Bool) == false else { continue }
                let known = Set(((schema["properties"] as? [String: Any]) ?? [:]).keys)
                for key in object.keys where !known.contains(key) { out.append("\(path): unexpected '\(key)'") }
            case "items":
                guard let array = value as? [Any] else { continue }
                for (i, v) in array.enumerated() { check(v, against: rule as! [String: Any], at: "\(path)[\(i)]", into: &out) }
            case "minItems":
                if let array = value as? [Any], array.count < rule as! Int { out.append("\(path): fewer than \(rule) items") }
            case "maxItems":
                if let array = value as? [Any], array.count > rule as! Int { out.append("\(path): more than \(rule) items") }
            case "minimum":
                if let n = Self.number(value), n < Self.number(rule)! { out.append("\(path): \(n) < \(rule)") }
            case "exclusiveMinimum":
                if let n = Self.number(value), n <= Self.number(rule)! { out.append("\(path): \(n) <= \(rule)") }
            case "pattern":
                if let s = value as? String, s.range(of: rule as! String, options: .regularExpression) == nil {
                    out.append("\(path): '\(s)' does not match \(rule)")
                }
            case "oneOf":
                let matches = (rule as! [Any]).filter { sub in
                    var e: [String] = []
                    check(value, against: sub as! [String: Any], at: path, into: &e)
                    return e.isEmpty
                }.count
                if matches != 1 { out.append("\(path): matches \(matches) of the oneOf alternatives") }
            default:
                out.append("\(path): the test validator does not implement '\(keyword)'")
            }
        }
    }

    private static func isBool(_ v: Any) -> Bool {
        // Foundation boxes JSON true/false in its own boolean subclass of NSNumber.
        guard let n = v as? NSNumber else { return false }
        return ObjectIdentifier(type(of: n)) == ObjectIdentifier(type(of: NSNumber(value: true)))
    }

    private static func number(_ v: Any) -> Double? {
        guard !isBool(v), let n = v as? NSNumber else { return nil }
        return n.doubleValue
    }

    private static func isType(_ v: Any, _ type: String) -> Bool {
        switch type {
        case "object": return v is [String: Any]
        case "array": return v is [Any]
        case "string": return v is String
        case "null": return v is NSNull
        case "boolean": return isBool(v)
        case "number": return number(v) != nil
        case "integer": return number(v).map { $0 == $0.rounded() } ?? false
        default: return false
        }
    }

    private static func equal(_ a: Any, _ b: Any) -> Bool {
        if let x = a as? String, let y = b as? String { return x == y }
        if isBool(a) || isBool(b) { return isBool(a) && isBool(b) && (a as! Bool) == (b as! Bool) }
        if let x = number(a), let y = number(b) { return x == y }
        return false
    }
}
