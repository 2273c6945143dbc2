package io.djlmx.zoo.cnn;

import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.transform.ToTensor;
import ai.djl.modality.cv.translator.ImageClassificationTranslator;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import java.util.List;

/**
 * The small Fashion-MNIST image classifier of the zoo (artifact {@code fashion-mnist-cnn}): three
 * 3×3 convolutions (16, 32, 64 filters, each with batch norm, ReLU and 2×2 max pooling) and a
 * two-layer {@code Linear} head (576 → 256 → 10), about 174k parameters. Under the MX engine only
 * the two {@code Linear} layers run in MX; the convolutions stay FP32 on PyTorch.
 */
public final class FashionMnistCnn {

  /** The zoo artifact id, also the model name of the {@code .params} file. */
  public static final String ARTIFACT_ID = "fashion-mnist-cnn";

  /** The class-path directory of {@code fashion-mnist-cnn-0000.params}. */
  public static final String RESOURCE_DIR = "io/djlmx/zoo/fashion-mnist-cnn/";

  /** Image side in pixels. */
  public static final int SIDE = 28;

  /** Mean of the training pixels scaled to [0, 1], subtracted before the network. */
  public static final float MEAN = 0.2860f;

  /** Standard deviation of the training pixels scaled to [0, 1], divided out before the network. */
  public static final float STD = 0.3530f;

  /** The ten class names, in label order (0 = T-shirt/top ... 9 = Ankle boot). */
  public static final List<String> LABELS =
      List.of(
          "T-shirt/top",
          "Trouser",
          "Pullover",
          "Dress",
          "Coat",
          "Sandal",
          "Shirt",
          "Sneaker",
          "Bag",
          "Ankle boot");

  private FashionMnistCnn() {}

  /**
   * Builds the network; training and loading use the same block.
   *
   * @return a new, uninitialized block taking {@code [N, 1, 28, 28]} normalized pixels
   */
  public static Block newBlock() {
    SequentialBlock net = new SequentialBlock();
    for (int filters : new int[] {16, 32, 64}) {
      net.add(
              Conv2d.builder()
                  .setKernelShape(new Shape(3, 3))
                  .optPadding(new Shape(1, 1))
                  .setFilters(filters)
                  .build())
          .add(BatchNorm.builder().build())
          .add(Activation::relu)
          .add(Pool.maxPool2dBlock(new Shape(2, 2)));
    }
    return net.add(Blocks.batchFlattenBlock())
        .add(Linear.builder().setUnits(256).build())
        .add(Activation::relu)
        .add(Linear.builder().setUnits(LABELS.size()).build());
  }

  /**
   * The image-classification translator: 28×28 grayscale, pixels scaled to [0, 1] then normalized
   * by {@link #MEAN} and {@link #STD} (as in training), softmax over {@link #LABELS}.
   *
   * @return a new translator
   */
  public static ImageClassificationTranslator newTranslator() {
    return ImageClassificationTranslator.builder()
        .optFlag(Image.Flag.GRAYSCALE)
        .addTransform(new ToTensor())
        // DJL's Normalize assumes three channels; one gray channel is normalized directly
        .addTransform(a -> a.sub(MEAN).div(STD))
        .optSynset(LABELS)
        .optApplySoftmax(true)
        .build();
  }
}
