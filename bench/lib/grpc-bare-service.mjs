// A two-method gRPC service on raw bytes (identity serializers): the transfer ceiling's wire.
const id = (b) => b;
const method = (name, requestStream, responseStream) => ({
  path: `/bench.Bare/${name}`, requestStream, responseStream,
  requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id,
});
export const BARE_SERVICE = { Sink: method("Sink", true, false), Source: method("Source", false, true) };
