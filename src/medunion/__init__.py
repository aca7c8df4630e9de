"""MedUnion: the platform a medical consortium (医联体) runs on."""

__version__ = "0.1.0"
