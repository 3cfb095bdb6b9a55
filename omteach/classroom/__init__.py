"""The live classroom round across machines: the node, the gate, the teacher, the students."""
