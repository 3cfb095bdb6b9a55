"""The class hub: JupyterHub on one machine serving a whole class (``make hub``).

Layers: :mod:`.classlist` (the teacher's CSV) and :mod:`.netns` (where anvil hides) know nothing
of JupyterHub; :mod:`.launch` builds the hub from them; :mod:`.service` is the classroom node as
the hub runs it; ``jupyterhub_config.py`` is the file JupyterHub itself reads. Nothing below
``omteach.hub`` imports it: students' laptops never need JupyterHub (the ``[hub]`` extra).
"""
