"""Reading jaxprs in tests: the primitives a program uses."""

import jax.extend


def primitives(jaxpr) -> set[str]:
    """Every primitive in ``jaxpr`` and its sub-jaxprs."""
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            names |= primitives(sub)
    return names
