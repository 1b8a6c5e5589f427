"""``escucha data index DIR -o manifest.csv``."""

from __future__ import annotations

import sys


def register(sub):
    p = sub.add_parser("data", help="corpus tools (index a folder into a manifest)")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True
    ix = dsub.add_parser("index", help="label every RAVDESS clip in a folder and write a manifest CSV")
    ix.add_argument("dir", help="corpus folder (Actor_XX/ sub-folders or flat; .wav or .flac)")
    ix.add_argument("-o", "--output", required=True, help="manifest CSV to write")
    ix.add_argument("--strict", action="store_true", help="fail on a file whose name does not parse")
    ix.add_argument("--vocal-channel", choices=["speech", "song", "all"], default="speech",
                    help="keep speech (default), song or all clips")
    ix.add_argument("--modality", choices=["audio-only", "audio-video", "video-only", "all"], default="all",
                    help="keep only this RAVDESS modality (default all)")
    ix.set_defaults(func=run_index)
    dl = dsub.add_parser("download", help="download and extract a corpus (checksum-verified)")
    dl.add_argument("corpus", choices=["ravdess"], help="corpus to fetch (RAVDESS speech, 24 actors, ~208 MB)")
    dl.add_argument("dir", help="folder to download into")
    dl.set_defaults(func=run_download)


def run_index(args) -> int:
    from ..corpora import scan_ravdess, write_manifest
    from ..corpora.ravdess import summarize

    records = scan_ravdess(args.dir, strict=args.strict,
                           vocal_channels=None if args.vocal_channel == "all" else [args.vocal_channel],
                           modalities=None if args.modality == "all" else [args.modality])
    path = write_manifest(records, args.output)
    s = summarize(records)
    emo = ", ".join(f"{k} {v}" for k, v in s["emotions"].items())
    print(f"wrote {path}: {s['clips']} clips, {s['speakers']} speakers, {s['hours'] * 60:.1f} min ({emo})",
          file=sys.stderr)
    return 0


def run_download(args) -> int:
    from ..corpora.download import RESOURCES, download_corpus

    path = download_corpus(args.corpus, args.dir)
    print(f"{args.corpus} is in {path} (licence: {RESOURCES[args.corpus].licence})", file=sys.stderr)
    return 0
