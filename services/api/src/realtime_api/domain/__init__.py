"""What the API computes, independent of HTTP and of the database: address rules, the reserves
Merkle sum tree, freshness and sync classification, masking, owner proofs."""
