"""Label a folder of your own images from one annotated image (docs/evaluation.md, "Label your own images").

    python tools/propagate.py --config configs/labelprop/coordgan_synthetic.py \
        --checkpoint work_dirs/coordgan-encoder_synthetic/iter_3500.pth \
        --ref ref.jpg --ref-mask ref_mask.png --images photos/ --out labels/
    # COCO in (polygons or RLE, image matched by file name) and out (RLE):
    python tools/propagate.py ... --ref-mask ref_coco.json --coco-out labels/pred.json

Writes OUT/masks/<name>.png (label maps at each image's size) and
OUT/overlays/<name>.png. Exit status: 0 all written; 1 with
--continue-on-error when some images were skipped (listed at the end);
2 on a bad argument, reference or (without --continue-on-error) image.
"""
import argparse
import sys

from mmengine.config import DictAction

from coordgan.apis import init_model, propagate_folder
from coordgan.datasets.file_checks import BadFileError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Propagate one annotated image\'s labels to a folder of '
        'images')
    parser.add_argument('--config', required=True, help='label-propagation '
                        'or encoder-stage config')
    parser.add_argument('--checkpoint', help='checkpoint (CoordGAN: an '
                        'encoder-stage one); baselines need none')
    parser.add_argument('--ref', required=True, help='the annotated image')
    parser.add_argument('--ref-mask', required=True, help='its labels: a '
                        'label-map PNG/.npy (0 background, 1..K parts) or a '
                        'COCO JSON with an image of --ref\'s file name')
    parser.add_argument('--images', required=True, help='folder of images '
                        'to label (searched recursively)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--coco-out', help='also write all predictions as '
                        'one COCO JSON with RLE masks')
    parser.add_argument('--continue-on-error', action='store_true',
                        help='skip unreadable images, list them at the end '
                        'and exit with status 1')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--device', default='cpu', help='e.g. cuda:0')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        model = init_model(args.config, args.checkpoint, device=args.device,
                           cfg_options=args.cfg_options)
        summary = propagate_folder(
            model, args.ref, args.ref_mask, args.images, args.out,
            coco_out=args.coco_out,
            continue_on_error=args.continue_on_error,
            batch_size=args.batch_size)
    except (BadFileError, FileNotFoundError, ValueError, TypeError) as err:
        print(f'\npropagate.py: error: {err}', file=sys.stderr)
        return 2
    print(f'\nwrote {len(summary.written)} masks and overlays to {args.out}'
          + (f' and {args.coco_out}' if args.coco_out else ''))
    if summary.skipped:
        print(f'skipped {len(summary.skipped)} unreadable images:',
              file=sys.stderr)
        for path, reason in summary.skipped:
            print(f'  {path}: {reason}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
