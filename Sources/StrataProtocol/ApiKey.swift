/// The Kafka APIs Strata speaks, with the version facts of each in one table.
///
/// `advertisedVersions` is what ``ApiVersionsTable/standard`` offers clients (reference §2.2);
/// `codecVersions` is what this module encodes and decodes. They differ only for Produce: 0–2 are
/// advertised (old librdkafka gates compression on Produce 0 being in range) but are message-set v0/v1
/// formats that Strata rejects, so decoding them throws and the broker closes the connection.
public enum ApiKey: Int16, CaseIterable, Sendable, CustomStringConvertible {
    case produce = 0
    case fetch = 1
    case listOffsets = 2
    case metadata = 3
    case offsetCommit = 8
    case offsetFetch = 9
    case findCoordinator = 10
    case joinGroup = 11
    case heartbeat = 12
    case leaveGroup = 13
    case syncGroup = 14
    case describeGroups = 15
    case listGroups = 16
    case apiVersions = 18
    case createTopics = 19
    case deleteTopics = 20
    case deleteRecords = 21
    case initProducerId = 22
    case offsetForLeaderEpoch = 23
    case describeConfigs = 32
    case alterConfigs = 33
    case deleteGroups = 42
    case incrementalAlterConfigs = 44

    private typealias Facts = (name: String, advertised: ClosedRange<Int16>, flexibleSince: Int16)

    private var facts: Facts {
        switch self {
        case .produce: ("Produce", 0...8, 9)
        case .fetch: ("Fetch", 4...11, 12)
        case .listOffsets: ("ListOffsets", 1...5, 6)
        case .metadata: ("Metadata", 0...8, 9)
        case .offsetCommit: ("OffsetCommit", 2...7, 8)
        case .offsetFetch: ("OffsetFetch", 1...5, 6)
        case .findCoordinator: ("FindCoordinator", 0...2, 3)
        case .joinGroup: ("JoinGroup", 0...5, 6)
        case .heartbeat: ("Heartbeat", 0...3, 4)
        case .leaveGroup: ("LeaveGroup", 0...3, 4)
        case .syncGroup: ("SyncGroup", 0...3, 4)
        case .describeGroups: ("DescribeGroups", 0...4, 5)
        case .listGroups: ("ListGroups", 0...2, 3)
        case .apiVersions: ("ApiVersions", 0...4, 3)
        case .createTopics: ("CreateTopics", 0...4, 5)
        case .deleteTopics: ("DeleteTopics", 0...3, 4)
        case .deleteRecords: ("DeleteRecords", 0...1, 2)
        case .initProducerId: ("InitProducerId", 0...1, 2)
        case .offsetForLeaderEpoch: ("OffsetForLeaderEpoch", 2...3, 4)
        case .describeConfigs: ("DescribeConfigs", 0...2, 4)
        case .alterConfigs: ("AlterConfigs", 0...1, 2)
        case .deleteGroups: ("DeleteGroups", 0...1, 2)
        case .incrementalAlterConfigs: ("IncrementalAlterConfigs", 0...0, 1)
        }
    }

    /// The API's name as in Kafka's schemas, e.g. `"Produce"`.
    public var name: String { facts.name }

    public var description: String { name }

    /// The versions Strata advertises in ApiVersions by default.
    public var advertisedVersions: ClosedRange<Int16> { facts.advertised }

    /// The versions this module can encode and decode.
    public var codecVersions: ClosedRange<Int16> {
        self == .produce ? 3...facts.advertised.upperBound : facts.advertised
    }

    /// The first flexible (KIP-482) version of this API.
    public var firstFlexibleVersion: Int16 { facts.flexibleSince }

    /// Whether `version` uses compact encodings and tagged fields.
    public func isFlexible(_ version: Int16) -> Bool { version >= facts.flexibleSince }

    /// Request header version for `version`: 2 when flexible, else 1.
    public func requestHeaderVersion(_ version: Int16) -> Int16 { isFlexible(version) ? 2 : 1 }

    /// Response header version for `version`: 1 when flexible, else 0; ApiVersions always uses 0 (KIP-511).
    public func responseHeaderVersion(_ version: Int16) -> Int16 {
        self != .apiVersions && isFlexible(version) ? 1 : 0
    }
}
