import NIOCore
import StrataProtocol
import StrataStorage

extension Broker {
    /// The group APIs: FindCoordinator (this node coordinates every group), JoinGroup, SyncGroup,
    /// Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups.
    /// JoinGroup and SyncGroup may be held across a rebalance; the connection waits, as with Kafka.
    func handleGroupRequest(
        _ request: AnyKafkaRequest, header: RequestHeader, clientHost: String,
        connectionClosed: EventLoopFuture<Void>? = nil
    ) async -> ByteBuffer {
        let version = header.apiVersion
        var out = ByteBufferAllocator().buffer(capacity: 256)
        func answer<R: KafkaResponse>(_ response: R) -> ByteBuffer {
            response.encodeFrame(into: &out, version: version, correlationId: header.correlationId)
            return out
        }
        switch request {
        case .findCoordinator(let request):
            return answer(findCoordinator(request))
        case .joinGroup(let request):
            let response = await groups.join(
                request, version: version, clientId: header.clientId ?? "",
                clientHost: clientHost, connectionClosed: connectionClosed)
            countGroupError(.joinGroup, response.errorCode)
            return answer(response)
        case .syncGroup(let request):
            let response = await groups.sync(request, connectionClosed: connectionClosed)
            countGroupError(.syncGroup, response.errorCode)
            return answer(response)
        case .heartbeat(let request):
            let code = groups.heartbeat(request)
            countGroupError(.heartbeat, code)
            return answer(HeartbeatResponse(errorCode: code))
        case .leaveGroup(let request):
            let leaving = request.leavingMembers
            logger.debug(
                "leave group",
                metadata: [
                    "group": "\(request.groupId)",
                    "members": "\(leaving.map(\.memberId))",
                ])
            let (code, results) = groups.leave(groupId: request.groupId, members: leaving)
            // v0–v2 carry one member: its outcome is the request's error.
            let single = version < 3 ? (results.first?.errorCode ?? .unknownMemberId) : code
            countGroupError(.leaveGroup, single)
            return answer(LeaveGroupResponse(errorCode: single, members: results))
        case .offsetCommit(let request):
            let response = await groups.commitOffsets(request)
            for topic in response.topics {
                for partition in topic.partitions {
                    countGroupError(
                        .offsetCommit,
                        partition.errorCode)
                }
            }
            return answer(response)
        case .offsetFetch(let request):
            return answer(groups.fetchOffsets(request))
        case .listGroups:
            return answer(groups.listGroups())
        case .describeGroups(let request):
            return answer(groups.describeGroups(request.groups))
        case .deleteGroups(let request):
            return answer(DeleteGroupsResponse(results: await groups.deleteGroups(request.groupNames)))
        default:
            preconditionFailure("\(request) is not a group request")
        }
    }

    private func countGroupError(_ api: ApiKey, _ code: KafkaErrorCode) {
        if code != .noError { metrics.error(api, code) }
    }

    /// FindCoordinator: this node for every group (creating `__consumer_offsets` on first use);
    /// transactions are not supported.
    func findCoordinator(_ request: FindCoordinatorRequest) -> FindCoordinatorResponse {
        guard request.keyType == FindCoordinatorRequest.keyTypeGroup else {
            return FindCoordinatorResponse(
                errorCode: .coordinatorNotAvailable,
                errorMessage: "transactions are not supported", nodeId: -1, host: "",
                port: -1)
        }
        do throws(StorageError) {
            try groups.ensureOffsetsTopic()
        } catch {
            logger.error("cannot create the offsets topic", metadata: ["error": "\(error)"])
            return FindCoordinatorResponse(
                errorCode: .coordinatorNotAvailable, errorMessage: "\(error)", nodeId: -1,
                host: "", port: -1)
        }
        let address = advertisedAddress
        return FindCoordinatorResponse(nodeId: logs.nodeId, host: address.host, port: Int32(address.port))
    }
}
