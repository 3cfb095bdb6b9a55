"""The live classroom round across machines: the node, the gate, the teacher, the students.

- :mod:`omteach.classroom.node`: anvil on loopback, the gate, the faucet, the class's contracts
  (``make classroom``); :func:`~omteach.classroom.node.teacher_chain` for the teacher's notebook;
- :mod:`omteach.classroom.gate`: the JSON-RPC gate students reach the node through;
- :mod:`omteach.classroom.student`: a student's side (own key, faucet, roster, blobs);
- :mod:`omteach.classroom.owner`: a student as a data owner in the round (polls the chain);
- :mod:`omteach.classroom.teacher`: AI Inc. on the node, the rounds, the dashboard's state;
- :mod:`omteach.classroom.roster`: the roster from the Classroom contract, names alike everywhere;
- :mod:`omteach.classroom.classmates`: simulated students, each its own process;
- :mod:`omteach.classroom.drill`: the live round driven with them (the benchmark's, the tests');
- :mod:`omteach.classroom.local`: :class:`~omteach.classroom.local.LocalClass`, a class on this
  machine for the notebooks to play along with;
- :mod:`omteach.classroom.rehearsal`: the command line (``make rehearsal``), and the names above
  where they were first imported from.
- :mod:`omteach.classroom.names`: the display names the contract accepts, and how any is shown;

Blobs travel through the node with :mod:`omteach.protocol.chainblobs`.
"""
