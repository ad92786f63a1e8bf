"""Images, frames and video through an executor: padding, tiling, batches, streams, the Deblurrer API."""
