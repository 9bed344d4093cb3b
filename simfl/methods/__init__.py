"""simfl's built-in methods and selection policies, each a component of :mod:`simfl.registry`.

Every module here uses only the server API (:mod:`simfl.engine.server`) and the math of
:mod:`simfl.algorithms`: exactly what a plugin can use. One method is one module holding its
parameters (``Params``) and its policy.
"""
