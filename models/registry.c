/* The table of built-in decision models, indexed by run.model. */
#include <stddef.h>

#include "model.h"

const tm_model_ops *tm_model_lookup(int kind)
{
    switch (kind) {
    case TM_MODEL_MYOPIC:
        return &tm_model_myopic;
    case TM_MODEL_DYNAMIC:
        return &tm_model_dynamic;
    case TM_MODEL_LEARNING:
        return &tm_model_learning;
    default:
        return NULL;
    }
}
