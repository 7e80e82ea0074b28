"""FID, KID and IS on the whole image (clean-fid resize) and on native-resolution crops."""

from __future__ import annotations

from ultrabench.metrics.plugin import FeatureExtractor, Metric, Net

_PATCH = "299x299 native crops"
_FULL = "whole image resized to 299x299 (PIL bicubic, antialiased)"


def _m(name, display, higher, view, feature, statistic, input_size, description, **kw):
    return Metric(name, display, higher, "set", input_size, extractor="inception", view=view, feature=feature,
                  statistic=statistic, description=description, **kw)


class Inception(FeatureExtractor):
    name = "inception"
    description = "FID Inception-v3 (TensorFlow graph of 2015-12-05), torch-fidelity's weight file"
    options_used = ("patch_crops", "crop_seed")
    metrics = (
        _m("fid-patch", "FID-patch", False, "patch", "pool", "frechet", _PATCH,
           "FID on 299x299 crops at native resolution (3 per image by default)", needs_reference=True, paper=True,
           value_range=(0.0, None)),
        _m("fid", "FID", False, "full", "pool", "frechet", _FULL, "Frechet Inception Distance, clean-fid resize",
           needs_reference=True, paper=True, value_range=(0.0, None)),
        _m("is-patch", "IS-patch", True, "patch", "logits", "inception-score", _PATCH,
           "Inception Score on native-resolution crops, 10 splits", paper=True, value_range=(1.0, 1008.0)),
        _m("is", "IS", True, "full", "logits", "inception-score", "whole image resized to 299x299",
           "Inception Score, 10 splits", paper=True, value_range=(1.0, 1008.0)),
        _m("kid", "KID", False, "full", "pool", "kid", "whole image resized to 299x299",
           "Kernel Inception Distance (unbiased, polynomial kernel)", needs_reference=True, decimals=4),
        _m("kid-patch", "KID-patch", False, "patch", "pool", "kid", _PATCH, "KID on native-resolution crops",
           needs_reference=True, decimals=4),
    )

    def views(self, net=None):
        from ultrabench.scoring.views import View

        return {"full": View.of("resize-clean", size=299),
                "patch": View.of("crops-native", size=299, n=self.options["patch_crops"], seed=self.options["crop_seed"])}

    def weight_files(self):
        from ultrabench.metrics.extractors.inception import WEIGHTS_FILENAME, WEIGHTS_URL
        from ultrabench.weights import WeightFile

        return [WeightFile("toshas/torch-fidelity", WEIGHTS_FILENAME, role="inception", size_hint="92 MB",
                           url=WEIGHTS_URL)]

    def load(self, resolver, device):
        from ultrabench.metrics.extractors.inception import InceptionExtractor

        return self.wrap(InceptionExtractor(resolver.resolve(self.weight_files()[0]), device=device))

    def standin(self, cache_dir, device):
        from ultrabench.metrics.extractors.inception import InceptionExtractor, random_inception_file

        return self.wrap(InceptionExtractor(random_inception_file(cache_dir), device=device, random_weights=True))

    @staticmethod
    def wrap(inc) -> Net:
        return Net(inc, inc.id, inc.weights_sha256, inc.random_weights, {k: v for k, v in inc.info().items()
                                                                         if k not in ("id", "weights_sha256",
                                                                                      "random_weights")},
                   device=getattr(inc, "device", "cpu"))

    def forward(self, net, role, rows):
        import numpy as np

        pool, logits = net.model(np.stack(rows))
        return {"pool": pool, "logits": logits}

    def protocol(self, metric):
        from ultrabench.metrics.statistics import INCEPTION_SPLITS, IS_SEED, KID_SEED, KID_SUBSET_SIZE, KID_SUBSETS

        n, seed = self.options["patch_crops"], self.options["crop_seed"]
        network = "Inception-v3 TF 2015-12-05 port (torch-fidelity weights layout), (x-128)/128"
        if metric.view == "full":
            view = {"resize": "PIL bicubic (antialiased) on float32 per channel, squash to 299x299, clipped to "
                              "[0,255], no re-quantisation (clean-fid 'clean')", "network": network}
            version = f"{metric.name}@clean-v1"
        else:
            view = {"crop": [299, 299], "crops_per_image": n, "crop_seed": seed, "resize": "none (native pixels)",
                    "placement": "uniform random top-left; rng = numpy default_rng([crop_seed, crc32(key)]), "
                                 "key = '<prompt_id>__s<seed>'; reference images: their sha256, so renaming or "
                                 "moving a reference set changes nothing",
                    "network": network}
            version = f"{metric.name}@native299-p{n}-v2"
        stat = {
            "frechet": {"features": "pool3 2048", "stats": "mean, covariance ddof=1, float64",
                        "sqrt": "tr((A S2 A)^1/2), A = S1^1/2, symmetric eigh, eigenvalues clipped at 0"},
            "inception-score": {"features": "logits_unbiased 1008", "splits": INCEPTION_SPLITS,
                                "shuffle": f"numpy RandomState({IS_SEED})", "kl": "xlogy (0 log 0 = 0)",
                                "splits_capped_at_n": True},
            "kid": {"features": "pool3 2048", "kernel": "polynomial (x.y/d + 1)^3", "subsets": KID_SUBSETS,
                    "subset_size": f"min({KID_SUBSET_SIZE}, n, n_ref)", "subset_rng": f"numpy RandomState({KID_SEED})",
                    "estimator": "unbiased MMD^2"},
        }[metric.statistic]
        return {"version": version, **view, **stat}
