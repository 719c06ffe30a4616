import NIOCore

/// A decoded request body of any API this codec knows: the broker's one dispatch point.
///
/// ```swift
/// var frame = ...                          // from KafkaFrameHandler
/// let (header, request) = try AnyKafkaRequest.decode(frame: &frame)
/// switch request {
/// case .produce(let produce): ...         // answer with ProduceResponse.encodeFrame(version: header.apiVersion, ...)
/// case .unsupportedApiVersions:            // answer ApiVersionsTable.unsupportedApiVersionsResponse at version 0
/// ...
/// }
/// ```
/// Unknown api keys and unsupported versions of other APIs throw; the broker then closes the connection,
/// as Kafka does.
public enum AnyKafkaRequest: Sendable, Equatable {
    case produce(ProduceRequest)
    case fetch(FetchRequest)
    case listOffsets(ListOffsetsRequest)
    case metadata(MetadataRequest)
    case offsetCommit(OffsetCommitRequest)
    case offsetFetch(OffsetFetchRequest)
    case findCoordinator(FindCoordinatorRequest)
    case joinGroup(JoinGroupRequest)
    case heartbeat(HeartbeatRequest)
    case leaveGroup(LeaveGroupRequest)
    case syncGroup(SyncGroupRequest)
    case describeGroups(DescribeGroupsRequest)
    case listGroups(ListGroupsRequest)
    case apiVersions(ApiVersionsRequest)
    case createTopics(CreateTopicsRequest)
    case deleteTopics(DeleteTopicsRequest)
    case deleteRecords(DeleteRecordsRequest)
    case initProducerId(InitProducerIdRequest)
    case offsetForLeaderEpoch(OffsetForLeaderEpochRequest)
    case describeConfigs(DescribeConfigsRequest)
    case alterConfigs(AlterConfigsRequest)
    case deleteGroups(DeleteGroupsRequest)
    case incrementalAlterConfigs(IncrementalAlterConfigsRequest)
    /// ApiVersions at a version newer than supported; its body is not parsed. Answer with
    /// ``ApiVersionsTable/unsupportedApiVersionsResponse`` encoded at version 0.
    case unsupportedApiVersions

    /// Decodes the request header and the body of a whole frame (the bytes after the size prefix).
    public static func decode(frame: inout ByteBuffer) throws(ProtocolError) -> (RequestHeader, AnyKafkaRequest) {
        let header = try RequestHeader(from: &frame)
        return (header, try AnyKafkaRequest(header: header, body: &frame))
    }

    /// Decodes the body that follows `header`.
    ///
    /// - Throws: ``ProtocolError`` for an unknown api key, a version outside ``ApiKey/codecVersions``
    ///   (other than a too-new ApiVersions), or malformed bytes.
    public init(header: RequestHeader, body: inout ByteBuffer) throws(ProtocolError) {
        guard let api = header.api else {
            throw ProtocolError(.unknownApiKey(header.apiKey), context: "request header", position: body.readerIndex)
        }
        let version = header.apiVersion
        if api == .apiVersions, version > api.codecVersions.upperBound {
            self = .unsupportedApiVersions
            return
        }
        switch api {
        case .produce: self = .produce(try .init(from: &body, version: version))
        case .fetch: self = .fetch(try .init(from: &body, version: version))
        case .listOffsets: self = .listOffsets(try .init(from: &body, version: version))
        case .metadata: self = .metadata(try .init(from: &body, version: version))
        case .offsetCommit: self = .offsetCommit(try .init(from: &body, version: version))
        case .offsetFetch: self = .offsetFetch(try .init(from: &body, version: version))
        case .findCoordinator: self = .findCoordinator(try .init(from: &body, version: version))
        case .joinGroup: self = .joinGroup(try .init(from: &body, version: version))
        case .heartbeat: self = .heartbeat(try .init(from: &body, version: version))
        case .leaveGroup: self = .leaveGroup(try .init(from: &body, version: version))
        case .syncGroup: self = .syncGroup(try .init(from: &body, version: version))
        case .describeGroups: self = .describeGroups(try .init(from: &body, version: version))
        case .listGroups: self = .listGroups(try .init(from: &body, version: version))
        case .apiVersions: self = .apiVersions(try .init(from: &body, version: version))
        case .createTopics: self = .createTopics(try .init(from: &body, version: version))
        case .deleteTopics: self = .deleteTopics(try .init(from: &body, version: version))
        case .deleteRecords: self = .deleteRecords(try .init(from: &body, version: version))
        case .initProducerId: self = .initProducerId(try .init(from: &body, version: version))
        case .offsetForLeaderEpoch: self = .offsetForLeaderEpoch(try .init(from: &body, version: version))
        case .describeConfigs: self = .describeConfigs(try .init(from: &body, version: version))
        case .alterConfigs: self = .alterConfigs(try .init(from: &body, version: version))
        case .deleteGroups: self = .deleteGroups(try .init(from: &body, version: version))
        case .incrementalAlterConfigs:
            self = .incrementalAlterConfigs(try .init(from: &body, version: version))
        }
    }
}
