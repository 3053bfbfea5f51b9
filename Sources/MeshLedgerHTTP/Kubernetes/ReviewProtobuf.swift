import MeshModel

/// The protobuf encoding kubectl sends the access and identity reviews in
/// (`application/vnd.kubernetes.protobuf`: the magic `k8s\0`, then a `runtime.Unknown` whose `raw`
/// field holds the object), read into the JSON shape of the same object, for the fields the
/// reviews read: `spec.resourceAttributes`, `spec.nonResourceAttributes` and `spec.namespace`.
/// Every length is checked against what is left; anything malformed is nil. The answer is JSON
/// (kubectl accepts it: it asks for protobuf or JSON).
enum ReviewProtobuf {
    /// The review in `bytes` as JSON, or nil when it does not read.
    static func review(_ bytes: [UInt8]) -> JSONValue? {
        guard bytes.count >= 4, Array(bytes[0..<4]) == Array("k8s\u{0}".utf8),
            let unknown = fields(bytes[4...]),
            let raw = unknown[2]?.first, let object = fields(raw)
        else { return nil }
        let kind = unknown[1]?.first.flatMap { strings($0) }?[2] ?? ""
        var spec = JSONObject()
        if let specBytes = object[2]?.first, let specFields = fields(specBytes) {
            switch kind {
            case "SelfSubjectAccessReview":
                if let attributes = specFields[1]?.first, let read = strings(attributes) {
                    spec["resourceAttributes"] = .object(
                        names(
                            read,
                            [
                                1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource",
                                6: "subresource", 7: "name",
                            ]))
                }
                if let attributes = specFields[2]?.first, let read = strings(attributes) {
                    spec["nonResourceAttributes"] = .object(names(read, [1: "path", 2: "verb"]))
                }
            case "SelfSubjectRulesReview":
                if let namespace = specFields[1]?.last {
                    guard let text = String(validating: namespace, as: UTF8.self) else { return nil }
                    spec["namespace"] = .string(text)
                }
            default: break
            }
        }
        return ["spec": .object(spec)]
    }

    /// The length-delimited fields of a message, by number (other wire types are skipped); nil
    /// when it is malformed.
    static func fields(_ bytes: ArraySlice<UInt8>) -> [Int: [ArraySlice<UInt8>]]? {
        var result: [Int: [ArraySlice<UInt8>]] = [:]
        var index = bytes.startIndex
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while index < bytes.endIndex, shift < 64 {
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        while index < bytes.endIndex {
            guard let key = varint(), key >> 3 > 0, key >> 3 <= UInt64(Int32.max) else { return nil }
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: guard varint() != nil else { return nil }
            case 1:
                guard bytes.endIndex - index >= 8 else { return nil }
                index += 8
            case 5:
                guard bytes.endIndex - index >= 4 else { return nil }
                index += 4
            case 2:
                guard let length = varint(), length <= UInt64(bytes.endIndex - index) else { return nil }
                let end = index + Int(length)
                result[number, default: []].append(bytes[index..<end])
                index = end
            default: return nil
            }
        }
        return result
    }

    /// A message of string fields, each its last value; nil when one is not a message or not UTF-8.
    static func strings(_ bytes: ArraySlice<UInt8>) -> [Int: String]? {
        guard let read = fields(bytes) else { return nil }
        var result: [Int: String] = [:]
        for (number, values) in read {
            guard let last = values.last, let text = String(validating: last, as: UTF8.self) else { return nil }
            result[number] = text
        }
        return result
    }

    static func names(_ read: [Int: String], _ names: [Int: String]) -> JSONObject {
        var object = JSONObject()
        for (number, name) in names { object[name] = .string(read[number] ?? "") }
        return object
    }
}
