/// The API version ranges a broker advertises, and the ApiVersions answers built from them.
///
/// Immutable value; the broker owns one for its lifetime. ``standard`` is the table of reference §2.2.
public struct ApiVersionsTable: Sendable, Equatable {
    /// Advertised range per API.
    public private(set) var ranges: [ApiKey: ClosedRange<Int16>]

    /// A table advertising exactly `ranges`.
    public init(ranges: [ApiKey: ClosedRange<Int16>]) {
        self.ranges = ranges
    }

    /// Every API of ``ApiKey`` at its ``ApiKey/advertisedVersions``.
    public static let standard = ApiVersionsTable(
        ranges: Dictionary(uniqueKeysWithValues: ApiKey.allCases.map { ($0, $0.advertisedVersions) })
    )

    /// The advertised range for `key`, nil when not advertised.
    public func versions(of key: ApiKey) -> ClosedRange<Int16>? { ranges[key] }

    /// Whether `version` of `key` is advertised.
    public func supports(_ key: ApiKey, version: Int16) -> Bool { ranges[key]?.contains(version) ?? false }

    /// The successful ApiVersions answer, entries sorted by api key.
    public func apiVersionsResponse(throttleTimeMs: Int32 = 0) -> ApiVersionsResponse {
        let entries = ranges.sorted { $0.key.rawValue < $1.key.rawValue }.map { key, range in
            ApiVersionsResponse.ApiVersion(
                apiKey: key.rawValue, minVersion: range.lowerBound,
                maxVersion: range.upperBound)
        }
        return ApiVersionsResponse(errorCode: .noError, apiKeys: entries, throttleTimeMs: throttleTimeMs)
    }

    /// The answer to an ApiVersions request of a version newer than advertised: UNSUPPORTED_VERSION with
    /// only the ApiVersions range, to be encoded **at version 0** with response header v0 (reference §1.5).
    public var unsupportedApiVersionsResponse: ApiVersionsResponse {
        let range = ranges[.apiVersions] ?? ApiKey.apiVersions.advertisedVersions
        let entry = ApiVersionsResponse.ApiVersion(
            apiKey: ApiKey.apiVersions.rawValue,
            minVersion: range.lowerBound, maxVersion: range.upperBound)
        return ApiVersionsResponse(errorCode: .unsupportedVersion, apiKeys: [entry])
    }
}
