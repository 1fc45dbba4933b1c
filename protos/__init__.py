"""The wire contract: generated code for the ``.proto`` files, one subpackage per version.

``fedtrade.protos.v2`` is the version in force; its modules are re-exported here so
code imports ``fedtrade.protos.query_pb2`` and a new wire version changes one file.
"""

from fedtrade.protos.v2 import aeo_pb2 as aeo_pb2
from fedtrade.protos.v2 import attestation_pb2 as attestation_pb2
from fedtrade.protos.v2 import envelope_pb2 as envelope_pb2
from fedtrade.protos.v2 import node_pb2 as node_pb2
from fedtrade.protos.v2 import node_pb2_grpc as node_pb2_grpc
from fedtrade.protos.v2 import query_pb2 as query_pb2

__all__ = ["aeo_pb2", "attestation_pb2", "envelope_pb2", "node_pb2", "node_pb2_grpc", "query_pb2"]
