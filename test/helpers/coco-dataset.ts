import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { photoJpeg } from '../../src/demo/synth.js';
import type { CocoInstances } from '../../src/sources/coco.js';

export interface CocoFixture {
  /** `<dir>/annotations/instances_val2017.json` */
  file: string;
  /** `<dir>/val2017` */
  images: string;
  instances: CocoInstances;
}

/**
 * A small COCO layout as the release ships it: `annotations/instances_val2017.json` beside
 * `val2017/`. Images 1..6 are photo-like JPEGs, except: 3 is corrupt (not a JPEG), 5 is listed but
 * missing, and `999.jpg` lies in the folder without being listed. Image 2 has three annotations
 * (two categories), image 4 one, image 6 none; ids are not in file order, every annotation has a
 * segmentation polygon, area and iscrowd, and the file has `info` and `licenses`.
 */
export async function writeCocoFixture(dir: string): Promise<CocoFixture> {
  const images = join(dir, 'val2017');
  await mkdir(images, { recursive: true });
  await mkdir(join(dir, 'annotations'), { recursive: true });
  const list = [1, 2, 3, 4, 5, 6].map((id) => ({
    id, file_name: `${String(id).padStart(12, '0')}.jpg`, width: 96, height: 72, license: 1, coco_url: `http://images.cocodataset.org/val2017/${id}.jpg`,
  }));
  for (const im of list) {
    if (im.id === 5) continue;
    const bytes = im.id === 3 ? Buffer.from('this is not a jpeg at all') : await photoJpeg({ seed: im.id, width: 96, height: 72 });
    await writeFile(join(images, im.file_name), bytes);
  }
  await writeFile(join(images, '999.jpg'), await photoJpeg({ seed: 999, width: 32, height: 32 }));
  const ann = (id: number, image_id: number, category_id: number, bbox: number[]) => ({
    segmentation: [[bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3], bbox[0], bbox[1] + bbox[3]]],
    area: bbox[2] * bbox[3], iscrowd: 0, image_id, bbox, category_id, id,
  });
  const instances: CocoInstances = {
    info: { description: 'fixture', version: '1.0', year: 2017 },
    licenses: [{ id: 1, name: 'Attribution License', url: 'http://creativecommons.org/licenses/by/2.0/' }],
    images: list,
    annotations: [
      ann(31, 2, 1, [10, 10, 40, 50]),
      ann(12, 1, 18, [5, 6, 30, 20]),
      ann(30, 2, 3, [50, 20, 30, 30]),
      ann(33, 2, 1, [2, 2, 5, 4]),
      ann(40, 4, 3, [0, 0, 96, 72]),
      ann(50, 3, 1, [1, 1, 10, 10]),
      ann(51, 5, 18, [1, 1, 10, 10]),
    ],
    categories: [
      { supercategory: 'person', id: 1, name: 'person' },
      { supercategory: 'vehicle', id: 3, name: 'car' },
      { supercategory: 'animal', id: 18, name: 'dog' },
    ],
  };
  const file = join(dir, 'annotations', 'instances_val2017.json');
  await writeFile(file, JSON.stringify(instances));
  return { file, images, instances };
}
