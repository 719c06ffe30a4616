/// DescribeConfigs (key 32) request, v0–v2.
///
/// Resource types: 2 topic, 4 broker, 8 broker logger.
public struct DescribeConfigsRequest: KafkaRequest {
    public typealias Response = DescribeConfigsResponse
    public static var apiKey: ApiKey { .describeConfigs }

    /// One resource and the keys wanted (nil = all).
    public struct Resource: ProtocolValue {
        public var resourceType: Int8 = 0
        public var resourceName = ""
        public var configurationKeys: [String]?

        public init() {}

        public init(resourceType: Int8, resourceName: String, configurationKeys: [String]? = nil) {
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.configurationKeys = configurationKeys
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int8(&resourceType, "resource_type")
            try coder.string(&resourceName, "resource_name")
            try coder.nullableArray(&configurationKeys, "configuration_keys")
        }
    }

    public var resources: [Resource] = []
    /// v1+.
    public var includeSynonyms = false

    public init() {}

    public init(resources: [Resource], includeSynonyms: Bool = false) {
        self.resources = resources
        self.includeSynonyms = includeSynonyms
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.array(&resources, "resources")
        if coder.version >= 1 { try coder.bool(&includeSynonyms, "include_synonyms") }
    }
}

/// DescribeConfigs (key 32) response, v0–v2. Throttle time is the first field.
///
/// Config sources (v1+): 1 dynamic topic config, 4 static broker config, 5 default config.
public struct DescribeConfigsResponse: KafkaResponse {
    public static var apiKey: ApiKey { .describeConfigs }

    /// Another source of a config's value (v1+).
    public struct Synonym: ProtocolValue {
        public var name = ""
        public var value: String?
        public var source: Int8 = 0

        public init() {}

        public init(name: String, value: String?, source: Int8) {
            self.name = name
            self.value = value
            self.source = source
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.string(&name, "name")
            try coder.nullableString(&value, "value")
            try coder.int8(&source, "source")
        }
    }

    /// One config of a resource.
    public struct Config: ProtocolValue {
        public var name = ""
        public var value: String?
        public var readOnly = false
        /// v0 only (replaced by ``configSource``).
        public var isDefault = false
        /// v1+.
        public var configSource: Int8 = -1
        public var isSensitive = false
        /// v1+.
        public var synonyms: [Synonym] = []

        public init() {}

        public init(
            name: String, value: String?, readOnly: Bool = false, isDefault: Bool = false,
            configSource: Int8 = -1, isSensitive: Bool = false, synonyms: [Synonym] = []
        ) {
            self.name = name
            self.value = value
            self.readOnly = readOnly
            self.isDefault = isDefault
            self.configSource = configSource
            self.isSensitive = isSensitive
            self.synonyms = synonyms
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.string(&name, "name")
            try coder.nullableString(&value, "value")
            try coder.bool(&readOnly, "read_only")
            if coder.version == 0 { try coder.bool(&isDefault, "is_default") }
            if coder.version >= 1 { try coder.int8(&configSource, "config_source") }
            try coder.bool(&isSensitive, "is_sensitive")
            if coder.version >= 1 { try coder.array(&synonyms, "synonyms") }
        }
    }

    /// One resource's configs.
    public struct Result: ProtocolValue {
        public var errorCode = KafkaErrorCode.noError
        public var errorMessage: String?
        public var resourceType: Int8 = 0
        public var resourceName = ""
        public var configs: [Config] = []

        public init() {}

        public init(
            errorCode: KafkaErrorCode = .noError, errorMessage: String? = nil, resourceType: Int8,
            resourceName: String, configs: [Config]
        ) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.configs = configs
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.errorCode(&errorCode, "error_code")
            try coder.nullableString(&errorMessage, "error_message")
            try coder.int8(&resourceType, "resource_type")
            try coder.string(&resourceName, "resource_name")
            try coder.array(&configs, "configs")
        }
    }

    public var throttleTimeMs: Int32 = 0
    public var results: [Result] = []

    public init() {}

    public init(throttleTimeMs: Int32 = 0, results: [Result]) {
        self.throttleTimeMs = throttleTimeMs
        self.results = results
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.int32(&throttleTimeMs, "throttle_time_ms")
        try coder.array(&results, "results")
    }
}
