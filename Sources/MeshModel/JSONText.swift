/// Strict JSON text reading and writing for `JSONValue`.
///
/// The reader accepts one value or a stream of concatenated values (as `kubectl get -w -o json`
/// prints them, with or without newlines between), keeps integers apart from floating-point
/// numbers, and refuses duplicate keys, non-finite numbers and nesting deeper than `maxDepth`.
/// The writer is canonical: sorted keys (objects are kept sorted), no insignificant white space,
/// shortest round-trip number formatting.
public enum JSONText {
    /// Nesting deeper than this is refused (it protects the stack from hostile input).
    public static let maxDepth = 200

    /// A syntax error with its position.
    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        /// What is wrong.
        public let problem: String
        /// 1-based line of the offending byte.
        public let line: Int
        /// 1-based column of the offending byte.
        public let column: Int
        /// Byte offset of the offending byte.
        public let offset: Int

        public var description: String { "line \(line), column \(column): \(problem)" }
    }

    /// Whether a byte is JSON white space (space, tab, line feed, carriage return).
    public static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    /// Whether bytes hold nothing but JSON white space (or nothing).
    public static func isBlank(_ bytes: some Collection<UInt8>) -> Bool { bytes.allSatisfy(isWhitespace) }

    /// Parses exactly one JSON value (white space around it allowed).
    public static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> JSONValue {
        var reader = Reader(bytes: bytes)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        if reader.index < bytes.count { throw reader.error("unexpected data after the JSON value") }
        return value
    }

    /// Parses a stream of concatenated JSON values; returns each value with the byte offset where
    /// it starts.
    public static func parseStream(_ bytes: [UInt8]) throws(SyntaxError) -> [(value: JSONValue, offset: Int)] {
        var reader = Reader(bytes: bytes)
        var values: [(JSONValue, Int)] = []
        reader.skipWhitespace()
        while reader.index < bytes.count {
            let start = reader.index
            values.append((try reader.value(depth: 0), start))
            reader.skipWhitespace()
        }
        return values
    }

    /// Parses the complete values at the start of a growing stream: returns them and how many
    /// bytes they used. A value cut off by the end of `bytes` is left for later (not an error);
    /// any other syntax error throws.
    public static func parseCompleteValues(_ bytes: [UInt8]) throws(SyntaxError) -> (values: [JSONValue], consumed: Int)
    {
        var reader = Reader(bytes: bytes)
        var values: [JSONValue] = []
        reader.skipWhitespace()
        var consumed = reader.index
        while reader.index < bytes.count {
            do {
                values.append(try reader.value(depth: 0))
            } catch  where error.offset >= bytes.count || error.problem.hasPrefix("unexpected end of input") {
                break
            }
            reader.skipWhitespace()
            consumed = reader.index
        }
        return (values, consumed)
    }

    /// The canonical compact serialization.
    public static func canonical(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out, indent: nil, level: 0)
        return out
    }

    /// The canonical compact serialization of an object one of whose members is serialized
    /// already: member `name` is written as `encoded` (its canonical serialization), so that a
    /// large member written into several documents is serialized once.
    public static func canonical(_ value: JSONValue, member name: String, encoded: [UInt8]) -> [UInt8] {
        guard case .object(let object) = value, object.count > 0 else { return canonical(value) }
        var out: [UInt8] = []
        out.reserveCapacity(encoded.count + 256)
        out.append(UInt8(ascii: "{"))
        for (i, member) in object.members.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            writeString(member.key, into: &out)
            out.append(UInt8(ascii: ":"))
            if member.key == name {
                out.append(contentsOf: encoded)
            } else {
                write(member.value, into: &out, indent: nil, level: 1)
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The canonical serialization as a String, indented by two spaces when `pretty`.
    public static func string(_ value: JSONValue, pretty: Bool = false) -> String {
        var out: [UInt8] = []
        write(value, into: &out, indent: pretty ? 2 : nil, level: 0)
        return String(decoding: out, as: UTF8.self)
    }

    /// Formats a double the canonical way (shortest round-trip; integral values keep `.0`).
    public static func format(_ value: Double) -> String {
        value.description
    }

    static func write(_ value: JSONValue, into out: inout [UInt8], indent: Int?, level: Int) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d): out.append(contentsOf: format(d).utf8)
        case .string(let s): writeString(s, into: &out)
        case .array(let elements):
            if elements.isEmpty {
                out.append(contentsOf: "[]".utf8)
                return
            }
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent, level + 1)
                write(element, into: &out, indent: indent, level: level + 1)
            }
            newline(&out, indent, level)
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.count == 0 {
                out.append(contentsOf: "{}".utf8)
                return
            }
            out.append(UInt8(ascii: "{"))
            for (i, member) in object.members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent, level + 1)
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                if indent != nil { out.append(UInt8(ascii: " ")) }
                write(member.value, into: &out, indent: indent, level: level + 1)
            }
            newline(&out, indent, level)
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func newline(_ out: inout [UInt8], _ indent: Int?, _ level: Int) {
        guard let indent else { return }
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * level))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A JSON string: the runs of bytes that need no escape are copied whole (encoding is most of
    /// what serving a watch event costs).
    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var start = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if start < index { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index])) }
                escape(byte, into: &out)
                start = index + 1
            }
            if start < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...])) }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func escape(_ byte: UInt8, into out: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
        case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
        case 0x0A: out.append(contentsOf: [92, UInt8(ascii: "n")])
        case 0x0D: out.append(contentsOf: [92, UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
        default:
            out.append(contentsOf: [92, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0xF)])
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func error(_ problem: String, at position: Int? = nil) -> SyntaxError {
            let offset = min(position ?? index, bytes.count)
            var line = 1
            var lineStart = 0
            for i in 0..<offset where bytes[i] == 0x0A {
                line += 1
                lineStart = i + 1
            }
            return SyntaxError(problem: problem, line: line, column: offset - lineStart + 1, offset: offset)
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x0A, 0x0D, 0x09: index += 1
                default: return
                }
            }
        }

        func describeByte(_ byte: UInt8) -> String {
            (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        }

        mutating func value(depth: Int) throws(SyntaxError) -> JSONValue {
            guard index < bytes.count else { throw error("unexpected end of input (truncated JSON)") }
            if depth > JSONText.maxDepth { throw error("nesting deeper than \(JSONText.maxDepth) levels") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw error("unexpected \(describeByte(bytes[index])) where a JSON value should start")
            }
        }

        mutating func literal(_ word: String) throws(SyntaxError) {
            let expected = Array(word.utf8)
            guard index + expected.count <= bytes.count,
                bytes[index..<index + expected.count].elementsEqual(expected)
            else {
                throw error(
                    index + expected.count > bytes.count
                        ? "unexpected end of input (truncated JSON)" : "invalid literal, expected \(word)")
            }
            index += expected.count
        }

        mutating func object(depth: Int) throws(SyntaxError) -> JSONValue {
            index += 1
            var members: [JSONObject.Member] = []
            var object: JSONObject? = nil
            var sorted = true
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(JSONObject())
            }
            while true {
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of input (truncated JSON object)") }
                guard bytes[index] == UInt8(ascii: "\"") else { throw error("expected a quoted object key") }
                let keyStart = index
                let key = try string()
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of input (truncated JSON object)") }
                guard bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after object key") }
                index += 1
                skipWhitespace()
                let value = try value(depth: depth + 1)
                if let last = members.last, sorted, !JSONObject.precedes(last.key, key) { sorted = false }
                if !sorted {
                    if object == nil { object = JSONObject(sortedMembers: members) }
                    if object![key] != nil { throw error("duplicate key \"\(key)\"", at: keyStart) }
                    object![key] = value
                }
                members.append(JSONObject.Member(key: key, value: value))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of input (truncated JSON object)") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(object ?? JSONObject(sortedMembers: members))
                }
                throw error("expected ',' or '}' in object, found \(describeByte(bytes[index]))")
            }
        }

        mutating func array(depth: Int) throws(SyntaxError) -> JSONValue {
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array([])
            }
            while true {
                skipWhitespace()
                elements.append(try value(depth: depth + 1))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of input (truncated JSON array)") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(elements)
                }
                throw error("expected ',' or ']' in array, found \(describeByte(bytes[index]))")
            }
        }

        mutating func string() throws(SyntaxError) -> String {
            let start = index
            index += 1
            // Most strings have no escape: they are the bytes between the quotes.
            var scan = index
            while scan < bytes.count {
                let byte = bytes[scan]
                if byte == UInt8(ascii: "\"") {
                    guard let text = String(utf8Text: bytes[index..<scan]) else {
                        throw error("string is not valid UTF-8", at: start)
                    }
                    index = scan + 1
                    return text
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { break }  // escapes and errors: below
                scan += 1
            }
            var out: [UInt8] = []
            var runStart = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    out.append(contentsOf: bytes[runStart..<index])
                    index += 1
                    guard let text = String(utf8Text: out) else {
                        throw error("string is not valid UTF-8", at: start)
                    }
                    return text
                }
                if byte < 0x20 { throw error("control character in string") }
                if byte == UInt8(ascii: "\\") {
                    out.append(contentsOf: bytes[runStart..<index])
                    index += 1
                    guard index < bytes.count else { break }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""): out.append(34)
                    case UInt8(ascii: "\\"): out.append(92)
                    case UInt8(ascii: "/"): out.append(47)
                    case UInt8(ascii: "b"): out.append(8)
                    case UInt8(ascii: "f"): out.append(12)
                    case UInt8(ascii: "n"): out.append(10)
                    case UInt8(ascii: "r"): out.append(13)
                    case UInt8(ascii: "t"): out.append(9)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard index + 1 < bytes.count, bytes[index] == 92, bytes[index + 1] == UInt8(ascii: "u")
                            else { throw error("unpaired UTF-16 surrogate in string") }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw error("invalid UTF-16 surrogate pair") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                        out.append(contentsOf: Array(String(Character(unicode)).utf8))
                    default: throw error("invalid escape \\\(describeByte(escape))")
                    }
                    runStart = index
                    continue
                }
                index += 1
            }
            throw error("unexpected end of input (truncated JSON: unterminated string)", at: start)
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw error("unexpected end of input in \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - 48)
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - 87)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - 55)
                default: throw error("invalid hex digit in \\u escape")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        mutating func number() throws(SyntaxError) -> JSONValue {
            let start = index
            var isInteger = true
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            func digits(_ r: inout Reader) -> Int {
                let s = r.index
                while r.index < r.bytes.count, (48...57).contains(r.bytes[r.index]) { r.index += 1 }
                return r.index - s
            }
            let intDigits = digits(&self)
            if intDigits == 0 { throw error("invalid number") }
            if intDigits > 1 && bytes[index - intDigits] == 48 { throw error("leading zero in number", at: start) }
            if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
                isInteger = false
                index += 1
                if digits(&self) == 0 { throw error("invalid number: digits expected after '.'") }
            }
            if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
                isInteger = false
                index += 1
                if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
                    index += 1
                }
                if digits(&self) == 0 { throw error("invalid number: digits expected in exponent") }
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if isInteger, let value = Int64(text) { return .int(value) }
            guard let value = Double(text), value.isFinite else { throw error("number out of range", at: start) }
            return .double(value)
        }
    }
}

extension String {
    /// The bytes as text when they are UTF-8, else nil. ASCII, most of the text read here, is
    /// taken as it is; anything else is validated by the standard library, whose generic
    /// `String(validating:as:)` is not specialized: it looked up type metadata on every call, 4%
    /// of a server's CPU when every JSON string went through it.
    init?(utf8Text bytes: some Collection<UInt8>) {
        if bytes.allSatisfy({ $0 < 0x80 }) {
            self = String(decoding: bytes, as: UTF8.self)
        } else if let text = String(validating: bytes, as: UTF8.self) {
            self = text
        } else {
            return nil
        }
    }
}
