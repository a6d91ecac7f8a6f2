from . import GeneratorSpec
KINEMATIC_SPEC = GeneratorSpec(name="kinematic", version="1.0.0", license="Apache-2.0", reference="x")
class KinematicGenerator:
    spec = KINEMATIC_SPEC
