import Testing

@testable import MeshLedgerHTTP

/// Query strings as kube-apiserver reads them.
@Suite struct QueryParametersTests {
    /// A boolean parameter is true unless absent, `0` or `false` in any case (as
    /// `Convert_Slice_string_To_bool`): `?watch`, `?watch=` and `?watch=yes` watch.
    @Test func booleansReadAsKubeApiserverReadsThem() {
        let cases: [(String?, Bool)] = [
            ("watch=true", true), ("watch=1", true), ("watch=yes", true), ("watch=", true), ("watch", true),
            ("watch=TRUE", true), ("watch=false", false), ("watch=False", false), ("watch=0", false), (nil, false),
            ("limit=5", false),
        ]
        for (query, expected) in cases {
            #expect(
                QueryParameters.flag(QueryParameters.value(of: "watch", in: query)) == expected, "\(query ?? "nil")")
        }
    }
}
