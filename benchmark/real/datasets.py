"""The registry of real datasets: name -> metadata and reader (``REAL_DATASETS["uci_hapt"].read(path)``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from text2imu.builder.registry import Registry

from . import pamap2, realworld, uci_hapt, usc_had
from .recording import Recordings


@dataclass(frozen=True)
class RealDataset:
    """One real dataset.

    Attributes:
        name: registry name, also ``Recording.dataset``.
        title: the dataset's own name.
        sites: the site names its recordings carry.
        rate_hz: its native sampling rate.
        license: the terms under which it is distributed, as far as known.
        citation: the reference its authors ask for.
        url: where to get it.
        layout: what ``reader`` expects at its path.
        reader: ``reader(path) -> Recordings`` (acc m/s^2, gyro rad/s, labels mapped, native rate).
    """

    name: str
    title: str
    sites: tuple[str, ...]
    rate_hz: float
    license: str
    citation: str
    url: str
    layout: str
    reader: Callable[[Path | str], Recordings]

    def read(self, path: Path | str, **options) -> Recordings:
        """``reader(path, **options)``."""
        return self.reader(path, **options)


REAL_DATASETS: Registry[RealDataset] = Registry("real dataset")

REAL_DATASETS.register(
    "uci_hapt",
    RealDataset(
        name="uci_hapt",
        title="UCI HAPT: Smartphone-Based Recognition of Human Activities and Postural Transitions",
        sites=(uci_hapt.SITE,),
        rate_hz=uci_hapt.RATE_HZ,
        license="CC BY 4.0",
        citation=(
            "J.-L. Reyes-Ortiz, L. Oneto, A. Samà, X. Parra, D. Anguita. Transition-Aware Human Activity "
            "Recognition Using Smartphones. Neurocomputing 171 (2016) 754-767. doi:10.1016/j.neucom.2015.07.085"
        ),
        url="https://archive.ics.uci.edu/dataset/341",
        layout="the hapt_users*.zip archives (or a folder of them), or an extracted folder with RawData/",
        reader=uci_hapt.read_uci_hapt,
    ),
)
REAL_DATASETS.register(
    "realworld",
    RealDataset(
        name="realworld",
        title="RealWorld HAR (2016)",
        sites=realworld.SITES,
        rate_hz=realworld.RATE_HZ,
        license="no explicit license; free for research use per the dataset page (check before redistributing)",
        citation=(
            "T. Sztyler, H. Stuckenschmidt. On-body Localization of Wearable Devices: An Investigation of "
            "Position-Aware Activity Recognition. IEEE PerCom 2016. doi:10.1109/PERCOM.2016.7456521"
        ),
        url="https://www.uni-mannheim.de/dws/research/projects/activity-recognition/dataset/dataset-realworld/",
        layout="the extracted realworld2016_dataset/ folder: probandN/data/{acc,gyr}_<activity>_csv.zip",
        reader=realworld.read_realworld,
    ),
)
REAL_DATASETS.register(
    "pamap2",
    RealDataset(
        name="pamap2",
        title="PAMAP2 Physical Activity Monitoring",
        sites=pamap2.SITES,
        rate_hz=pamap2.RATE_HZ,
        license="CC BY 4.0 (UCI Machine Learning Repository)",
        citation=(
            "A. Reiss, D. Stricker. Introducing a New Benchmarked Dataset for Activity Monitoring. "
            "ISWC 2012. doi:10.1109/ISWC.2012.13"
        ),
        url="https://archive.ics.uci.edu/dataset/231",
        layout="the extracted PAMAP2_Dataset/ folder: Protocol/subjectNNN.dat",
        reader=pamap2.read_pamap2,
    ),
)
REAL_DATASETS.register(
    "usc_had",
    RealDataset(
        name="usc_had",
        title="USC-HAD: USC Human Activity Dataset",
        sites=(usc_had.SITE,),
        rate_hz=usc_had.RATE_HZ,
        license="no explicit license; freely available for research per the dataset page (check before redistributing)",
        citation=(
            "M. Zhang, A. A. Sawchuk. USC-HAD: A Daily Activity Dataset for Ubiquitous Activity Recognition "
            "Using Wearable Sensors. UbiComp 2012 (SAGAware workshop). doi:10.1145/2370216.2370438"
        ),
        url="https://sipi.usc.edu/had/",
        layout="the extracted USC-HAD/ folder: SubjectN/a<m>t<n>.mat",
        reader=usc_had.read_usc_had,
    ),
)
