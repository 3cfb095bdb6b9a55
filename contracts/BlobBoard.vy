# pragma version ~=0.4.3
"""
@title A notice board for blobs: their bytes travel in event data, their ids are computed here
@notice DATA  - every blob ever published: its bytes in the BlobPosted event's data, its sha256
                id (computed on chain, never taken from the caller) as an indexed topic;
        STATE - the block each id was first published in, so a reader asks the node for one
                block's logs, not the whole history;
        CODE  - anyone may publish (the poster pays the gas); publishing bytes already on the
                board costs one lookup and logs nothing.
        As rollups post their data to Ethereum: the chain keeps the bytes available, every
        reader re-hashes them, so the node cannot hand out other bytes under an id either.
"""

# Fits a packed, encrypted update of chapter 4's model (about 13 kB) and its model blob (about
# 20 kB) with room to spare, and keeps a transaction under the 128 kB that public nodes relay.
MAX_BLOB: constant(uint256) = 65536

event BlobPosted:
    blob_id: indexed(bytes32)
    poster: indexed(address)
    data: Bytes[MAX_BLOB]

posted_in: public(HashMap[bytes32, uint256])   # sha256 id -> block of its first publication
count: public(uint256)                          # how many distinct blobs were published


@external
def publish(data: Bytes[MAX_BLOB]) -> bytes32:
    """
    @notice Publish a blob; returns its sha256 id, computed here from the bytes themselves.
    """
    assert len(data) > 0, "an empty blob carries nothing: publish some bytes"
    blob_id: bytes32 = sha256(data)
    if self.posted_in[blob_id] != 0:
        return blob_id
    self.posted_in[blob_id] = block.number
    self.count += 1
    log BlobPosted(blob_id=blob_id, poster=msg.sender, data=data)
    return blob_id
