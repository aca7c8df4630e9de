"""The synthetic demo consortium: a Shaanxi county medical community with its village clinics,
township health centres, county hospital, diagnostic hubs and a partner tertiary hospital.

Everything is generated from syllable lists with a seeded random generator; no person in it
is real. ``medunion demo`` (and ``make run`` on an empty database) builds it.
"""
