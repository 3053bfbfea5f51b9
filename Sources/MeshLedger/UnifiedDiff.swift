/// A unified diff of two texts, line by line, with `context` lines around each change (the format
/// of `diff -u`). Uses the standard library's `CollectionDifference` (Myers' algorithm).
public func unifiedDiff(
    from old: String, to new: String, oldLabel: String, newLabel: String, context: Int = 3
) -> String {
    let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let difference = b.difference(from: a)
    var removed = Set<Int>()
    var inserted = Set<Int>()
    for change in difference {
        switch change {
        case .remove(let offset, _, _): removed.insert(offset)
        case .insert(let offset, _, _): inserted.insert(offset)
        }
    }
    // The edit script: (op, old index, new index, text).
    var script: [(op: Character, i: Int, j: Int, text: String)] = []
    var i = 0
    var j = 0
    while i < a.count || j < b.count {
        if i < a.count && removed.contains(i) {
            script.append(("-", i, j, a[i]))
            i += 1
        } else if j < b.count && inserted.contains(j) {
            script.append(("+", i, j, b[j]))
            j += 1
        } else {
            script.append((" ", i, j, i < a.count ? a[i] : ""))
            i += 1
            j += 1
        }
    }
    let changes = script.indices.filter { script[$0].op != " " }
    guard !changes.isEmpty else { return "" }
    var out = "--- \(oldLabel)\n+++ \(newLabel)\n"
    var index = 0
    while index < changes.count {
        let start = max(changes[index] - context, 0)
        var end = min(changes[index] + context, script.count - 1)
        var next = index + 1
        while next < changes.count && changes[next] - context <= end + 1 {
            end = min(changes[next] + context, script.count - 1)
            next += 1
        }
        let hunk = script[start...end]
        let oldCount = hunk.filter { $0.op != "+" }.count
        let newCount = hunk.filter { $0.op != "-" }.count
        let oldStart = oldCount == 0 ? hunk.first!.i : hunk.first!.i + 1
        let newStart = newCount == 0 ? hunk.first!.j : hunk.first!.j + 1
        out += "@@ -\(oldStart),\(oldCount) +\(newStart),\(newCount) @@\n"
        for line in hunk { out += "\(line.op)\(line.text)\n" }
        index = next
    }
    return out
}
