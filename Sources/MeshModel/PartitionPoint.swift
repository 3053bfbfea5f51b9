extension RandomAccessCollection {
    /// The first index whose element satisfies `belongs`, in a collection where every element
    /// that does follows every element that does not (a sorted run: `{ $0 >= x }` finds the first
    /// at or after `x`); `endIndex` when none does. A binary search: O(log n) calls of `belongs`.
    public func partitionPoint(where belongs: (Element) throws -> Bool) rethrows -> Index {
        var low = startIndex
        var count = self.count
        while count > 0 {
            let half = count / 2
            let middle = index(low, offsetBy: half)
            if try belongs(self[middle]) {
                count = half
            } else {
                low = index(after: middle)
                count -= half + 1
            }
        }
        return low
    }
}
