"""``mlpublish demo``: the demo warehouse (:mod:`~mlpublish.demo.data`) and the demo run (:mod:`~mlpublish.demo.run`)."""
