import Foundation
import NIOCore
import StrataProtocol

/// `--offsets-decoder`: shows `__consumer_offsets` keys and values as JSON, in the shape of
/// Kafka's `kafka-dump-log --offsets-decoder` (`{"type":…,"data":{…}}` keys,
/// `{"version":…,"data":{…}}` values, `<DELETE>` for tombstones, field names from Kafka's schemas).
/// Bytes that do not decode are shown with the decoder's error and their hex.
enum OffsetsDecoder {
    static func render(key: ByteBuffer?, value: ByteBuffer?) -> (key: RenderedData, payload: RenderedData) {
        guard let key else { return (.null, RenderedData(value)) }
        let decodedKey: GroupCoordinatorRecordKey
        do {
            decodedKey = try GroupCoordinatorRecord.decodeKey(key)
        } catch {
            return (failure(error, key), RenderedData(value))
        }
        let keyJSON = json(decodedKey)
        if case .unsupported = decodedKey { return (.json(keyJSON), RenderedData(value)) }
        guard let value else { return (.json(keyJSON), .tombstone) }
        do {
            guard let decoded = try GroupCoordinatorRecord.decodeValue(value, key: decodedKey) else {
                return (.json(keyJSON), .tombstone)
            }
            return (.json(keyJSON), .json(json(decoded)))
        } catch {
            return (.json(keyJSON), failure(error, value))
        }
    }

    private static func failure(_ error: ProtocolError, _ bytes: ByteBuffer) -> RenderedData {
        var object = JSONObject()
        object.add("error", error.description)
        object.add("hex", bytes.withUnsafeReadableBytes { RenderedData.hex($0) })
        return .json(object.json)
    }

    static func json(_ key: GroupCoordinatorRecordKey) -> String {
        var object = JSONObject()
        object.add("type", key.recordType)
        var data = JSONObject()
        switch key {
        case .offsetCommit(let fields, _):
            data.add("group", fields.group)
            data.add("topic", fields.topic)
            data.add("partition", fields.partition)
        case .groupMetadata(let fields):
            data.add("group", fields.group)
        case .unsupported:
            object.add("data", json: "null")
            return object.json
        }
        object.add("data", json: data.json)
        return object.json
    }

    static func json(_ value: GroupCoordinatorRecordValue) -> String {
        var object = JSONObject()
        object.add("version", value.version)
        var data = JSONObject()
        switch value {
        case .offsetCommit(let fields, let version):
            data.add("offset", fields.offset)
            if version >= 3 { data.add("leaderEpoch", fields.leaderEpoch) }
            data.add("metadata", fields.metadata)
            data.add("commitTimestamp", fields.commitTimestamp)
            if version == 1 { data.add("expireTimestamp", fields.expireTimestamp) }
        case .groupMetadata(let fields, let version):
            data.add("protocolType", fields.protocolType)
            data.add("generation", fields.generation)
            data.add("protocol", fields.protocolName)
            data.add("leader", fields.leader)
            if version >= 2 { data.add("currentStateTimestamp", fields.currentStateTimestamp) }
            let members = fields.members.map { member -> String in
                var entry = JSONObject()
                entry.add("memberId", member.memberId)
                if version >= 3 { entry.add("groupInstanceId", member.groupInstanceId) }
                entry.add("clientId", member.clientId)
                entry.add("clientHost", member.clientHost)
                if version >= 1 { entry.add("rebalanceTimeout", member.rebalanceTimeout) }
                entry.add("sessionTimeout", member.sessionTimeout)
                entry.add("subscription", base64(member.subscription))
                entry.add("assignment", base64(member.assignment))
                return entry.json
            }
            data.add("members", json: "[" + members.joined(separator: ",") + "]")
        }
        object.add("data", json: data.json)
        return object.json
    }

    private static func base64(_ buffer: ByteBuffer) -> String {
        Data(buffer.readableBytesView).base64EncodedString()
    }
}
